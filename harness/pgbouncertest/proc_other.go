//go:build !unix

package pgbouncertest

import (
	"errors"
	"os"
	"os/exec"
)

type account struct{}

func makeDir() (string, *account, error) {
	return "", nil, errors.New("pgbouncertest: supported on unix systems only")
}

func writeOwned(path, content string, _ *account) error {
	return os.WriteFile(path, []byte(content), 0o600)
}

func runAs(*exec.Cmd, *account) {}

func terminate(p *os.Process) error { return p.Kill() }
