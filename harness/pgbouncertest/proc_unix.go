//go:build unix

package pgbouncertest

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"strconv"
	"syscall"
)

// account is the user pgbouncer runs as when the test runs as root; nil
// means the test's own user.
type account struct {
	uid, gid uint32
}

// makeDir creates the directory of pgbouncer's files, owned by the user
// pgbouncer will run as: the test's own, or, under root (which pgbouncer
// refuses), postgres or else nobody.
func makeDir() (string, *account, error) {
	dir, err := os.MkdirTemp("", "pgbouncertest-")
	if err != nil {
		return "", nil, err
	}
	if os.Getuid() != 0 {
		return dir, nil, nil
	}
	acc, err := unprivileged()
	if err == nil {
		err = os.Chown(dir, int(acc.uid), int(acc.gid))
	}
	if err != nil {
		_ = os.RemoveAll(dir)
		return "", nil, err
	}
	return dir, acc, nil
}

// unprivileged looks up the account to run pgbouncer as under root.
func unprivileged() (*account, error) {
	for _, name := range []string{"postgres", "nobody"} {
		u, err := user.Lookup(name)
		if err != nil {
			continue
		}
		uid, err1 := strconv.ParseUint(u.Uid, 10, 32)
		gid, err2 := strconv.ParseUint(u.Gid, 10, 32)
		if err1 == nil && err2 == nil {
			return &account{uid: uint32(uid), gid: uint32(gid)}, nil
		}
	}
	return nil, fmt.Errorf("running as root, and neither a postgres nor a nobody user to run pgbouncer as")
}

// writeOwned writes a file readable by acc.
func writeOwned(path, content string, acc *account) error {
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		return err
	}
	if acc == nil {
		return nil
	}
	return os.Chown(path, int(acc.uid), int(acc.gid))
}

// runAs makes cmd run as acc (when not nil), in a process group of its
// own.
func runAs(cmd *exec.Cmd, acc *account) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if acc != nil {
		cmd.SysProcAttr.Credential = &syscall.Credential{Uid: acc.uid, Gid: acc.gid, NoSetGroups: true}
	}
}

// terminate asks pgbouncer for an immediate shutdown.
func terminate(p *os.Process) error {
	return p.Signal(syscall.SIGTERM)
}
