package main

import (
	"strings"
	"testing"
)

func TestMaintainJSONNothingToDo(t *testing.T) {
	cfg := strings.Replace(projectConfig, "retention:\n", "storage:\n  partitions: daily\n  premake: 1\nretention:\n", 1)
	p := newProject(t, projectDDL, cfg)
	code, out, errb := p.cli(t, "maintain")
	expectCode(t, "maintain", code, 0, out, errb)
	code, out, errb = p.cli(t, "maintain", "-json")
	expectCode(t, "maintain -json", code, 0, out, errb)
	if out != "{\"actions\":[]}\n" {
		t.Errorf("maintain -json with nothing to do:\n%s", out)
	}
}
