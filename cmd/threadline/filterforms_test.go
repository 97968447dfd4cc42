package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// The -from and -to of export read the times the viewer reads
// (threadline.ParseTime): minutes without seconds, and times relative to
// now.
func TestExportTimeForms(t *testing.T) {
	p := newProject(t, projectDDL, projectConfig)
	p.seed(t)
	hourAgo := time.Now().UTC().Add(-time.Hour).Format("2006-01-02T15:04")
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-from", hourAgo}, "exported 7 changes to standard output"},
		{[]string{"-from", "-1h", "-table", "users"}, "exported 3 changes to standard output"},
		{[]string{"-from", "-7d", "-to", "-1h"}, "exported 0 changes to standard output"},
		{[]string{"-to", "2000-01-02T03:04"}, "exported 0 changes to standard output"},
		{[]string{"-from", "2000-01-02"}, "exported 7 changes to standard output"},
	} {
		args := append([]string{"export", "-format", "ndjson", "-output", "-"}, c.args...)
		code, out, errb := p.cli(t, args...)
		expectCode(t, strings.Join(c.args, " "), code, 0, out, errb)
		mustContain(t, strings.Join(c.args, " "), errb, c.want+": ndjson")
	}
}

func TestExportFilterErrors(t *testing.T) {
	t.Chdir(t.TempDir())
	const forms = "RFC 3339 (2026-01-02T15:04:05Z, 2026-01-02T16:04:05+01:00), 2026-01-02T15:04 or 2026-01-02T15:04:05 (UTC), " +
		"a date 2026-01-02 (its midnight UTC), or a time relative to now: -30m, -1h, -7d (units s, m, h, d, w)"
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"-actor", "bob"}, `-actor: "bob": use kind:id, e.g. user:bob (kinds: user, admin, service_account, job, system), or anonymous`},
		{[]string{"-actor", "wizard:1"}, `-actor: "wizard:1": unknown kind "wizard" (want one of user, admin, service_account, job, system, anonymous)`},
		{[]string{"-from", "yesterday"}, `-from: "yesterday" is not a time: write ` + forms},
		{[]string{"-to", "-1y"}, `-to: "-1y": unknown unit "y"; write ` + forms},
	} {
		args := append([]string{"export", "-format", "csv", "-output", "x.csv"}, c.args...)
		var out, errb bytes.Buffer
		code := runEnv(context.Background(), args, &out, &errb, env{})
		want := "threadline export: " + c.want + "\nrun \"threadline export -help\" for its flags\n"
		if code != 2 || errb.String() != want {
			t.Errorf("%v: exit %d, stderr:\n%s\nwant:\n%s", c.args, code, errb.String(), want)
		}
	}
}
