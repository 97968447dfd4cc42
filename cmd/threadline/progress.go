package main

import (
	"fmt"
	"io"
	"strings"
	"time"
)

// progress draws a one-line progress display on a terminal, redrawn in
// place at most every 100 ms. It is inert when the output is not a
// terminal, so logs and pipes never receive it.
type progress struct {
	w     io.Writer
	on    bool
	start time.Time
	last  time.Time
	drawn bool
}

func newProgress(w io.Writer, on bool) *progress {
	return &progress{w: w, on: on, start: time.Now()}
}

// draw shows line unless a line was drawn less than 100 ms ago.
func (p *progress) draw(line string) {
	if !p.on {
		return
	}
	now := time.Now()
	if p.drawn && now.Sub(p.last) < 100*time.Millisecond {
		return
	}
	p.last, p.drawn = now, true
	fmt.Fprintf(p.w, "\r%s\x1b[K", line)
}

// clear erases the progress line.
func (p *progress) clear() {
	if p.on && p.drawn {
		fmt.Fprint(p.w, "\r\x1b[K")
		p.drawn = false
	}
}

// rate renders n per second since the start.
func (p *progress) rate(n int64) string {
	s := time.Since(p.start).Seconds()
	if s <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.0f", float64(n)/s)
}

// bar renders [#####.....] 50% for done of total.
func bar(done, total int64, width int) string {
	if total <= 0 {
		return "[" + strings.Repeat(".", width) + "]   -%"
	}
	frac := min(float64(done)/float64(total), 1)
	n := int(frac * float64(width))
	return fmt.Sprintf("[%s%s] %3.0f%%", strings.Repeat("#", n), strings.Repeat(".", width-n), frac*100)
}

// elapsed renders a duration rounded for people.
func elapsed(d time.Duration) string {
	switch {
	case d < time.Second:
		return d.Round(time.Millisecond).String()
	case d < time.Minute:
		return d.Round(10 * time.Millisecond).String()
	}
	return d.Round(time.Second).String()
}

// lineWriter returns a writer for log lines sharing the terminal with the
// progress line: each write first erases the progress line.
func (p *progress) lineWriter() io.Writer { return progressLines{p} }

type progressLines struct{ p *progress }

func (l progressLines) Write(b []byte) (int, error) {
	l.p.clear()
	return l.p.w.Write(b)
}
