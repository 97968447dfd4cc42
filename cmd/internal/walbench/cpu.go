package walbench

import (
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// clockTicks is USER_HZ, the unit of the CPU times in /proc/<pid>/stat:
// 100 on every Linux this runs on.
const clockTicks = 100

// cpuTimes is the CPU time, in seconds, used up to a moment, by kind of
// process: the cluster's backends (with every exited child of the
// postmaster: the benchmark's connections and autovacuum workers) but
// those serving the consumer, the backends serving the consumer (its
// trail and catalog connections), its walsenders, its other background
// processes (the postmaster included), and this process (the WAL
// engine's consumer runs in it).
type cpuTimes struct {
	backends, trail, walsender, background, self float64
}

func (a cpuTimes) sub(b cpuTimes) cpuTimes {
	return cpuTimes{a.backends - b.backends, a.trail - b.trail, a.walsender - b.walsender, a.background - b.background, a.self - b.self}
}

// sampleCPU reads the CPU times of the cluster whose data directory is
// data, and of this process, from /proc (Linux only); trail holds the
// pids of the backends serving the consumer.
func sampleCPU(data string, trail map[int]bool) (cpuTimes, error) {
	var t cpuTimes
	pidText, err := os.ReadFile(filepath.Join(data, "postmaster.pid"))
	if err != nil {
		return t, fmt.Errorf("cpu: %w", err)
	}
	postmaster, err := strconv.Atoi(strings.TrimSpace(strings.SplitN(string(pidText), "\n", 2)[0]))
	if err != nil {
		return t, fmt.Errorf("cpu: postmaster.pid: %w", err)
	}
	own, _, waited, err := procStat(postmaster)
	if err != nil {
		return t, err
	}
	t.background, t.backends = own, waited
	if t.self, _, _, err = procStat(os.Getpid()); err != nil {
		return t, err
	}
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return t, fmt.Errorf("cpu: %w", err)
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		used, parent, _, err := procStat(pid)
		if err != nil || parent != postmaster {
			continue // gone meanwhile, or not the cluster's
		}
		title, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		switch kind := string(title); {
		case strings.Contains(kind, "walsender"):
			t.walsender += used
		case isBackground(kind):
			t.background += used
		case trail[pid]:
			t.trail += used
		default:
			t.backends += used
		}
	}
	return t, nil
}

// isBackground reports whether a postgres process title names one of the
// server's own background processes.
func isBackground(title string) bool {
	for _, k := range []string{"checkpointer", "background writer", "walwriter", "autovacuum launcher",
		"logical replication launcher", "archiver", "stats collector", "logger"} {
		if strings.Contains(title, k) {
			return true
		}
	}
	return false
}

// procStat returns the CPU seconds pid used itself (utime + stime), its
// parent, and the CPU seconds of its children it waited for (cutime +
// cstime).
func procStat(pid int) (used float64, parent int, waited float64, err error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, 0, 0, fmt.Errorf("cpu: %w", err)
	}
	// The command name, field 2, is in parentheses and may hold spaces.
	s := string(b)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	if len(f) < 15 {
		return 0, 0, 0, fmt.Errorf("cpu: /proc/%d/stat: %d fields", pid, len(f))
	}
	num := func(i int) float64 { v, _ := strconv.ParseFloat(f[i], 64); return v / clockTicks }
	parent, _ = strconv.Atoi(f[1])
	// Fields 14–17 of stat(5), counted from field 3 (state) here.
	return num(11) + num(12), parent, num(13) + num(14), nil
}
