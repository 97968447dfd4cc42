package threadlinecapture

import (
	"context"
	"net"
	"sync"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
)

// The replication stream is many small messages (a row change is about
// a hundred bytes). Read as they come, each costs a read system call and
// a wake-up of the Go scheduler, which cost the consumer more CPU than
// decoding them. coalescingConn reads the stream in large chunks: after a
// read that found little data, it waits readPause before the next, so
// that one read takes what arrived meanwhile. The pause adds at most
// readPause to a change's way into the trail, against a batch delay of
// 200 ms; a stream with data waiting (a consumer catching up) is read
// without pause.
const (
	readPause     = 2 * time.Millisecond
	readChunk     = 256 << 10
	readSmallFill = 16 << 10
)

// coalescingConn is the replication connection's net.Conn (pgconn's
// AfterNetConnect), reading in chunks of up to readChunk bytes.
type coalescingConn struct {
	net.Conn
	buf        []byte
	r, w       int // unread bytes are buf[r:w]
	lastFill   int
	mu         sync.Mutex
	readExpiry time.Time
}

// coalesceReads makes cfg's connections read through a coalescingConn.
func coalesceReads(cfg *pgconn.Config) {
	cfg.AfterNetConnect = func(_ context.Context, _ *pgconn.Config, c net.Conn) (net.Conn, error) {
		return &coalescingConn{Conn: c, buf: make([]byte, readChunk), lastFill: readChunk}, nil
	}
}

func (c *coalescingConn) Read(p []byte) (int, error) {
	if c.r == c.w {
		if c.lastFill < readSmallFill {
			c.pause()
		}
		n, err := c.Conn.Read(c.buf)
		c.r, c.w, c.lastFill = 0, n, n
		if n == 0 {
			return 0, err
		}
	}
	n := copy(p, c.buf[c.r:c.w])
	c.r += n
	return n, nil
}

// pause waits readPause, or until the read deadline if that is sooner.
func (c *coalescingConn) pause() {
	d := readPause
	c.mu.Lock()
	if exp := c.readExpiry; !exp.IsZero() {
		d = min(d, time.Until(exp))
	}
	c.mu.Unlock()
	if d > 0 {
		time.Sleep(d)
	}
}

func (c *coalescingConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readExpiry = t
	c.mu.Unlock()
	return c.Conn.SetReadDeadline(t)
}

func (c *coalescingConn) SetDeadline(t time.Time) error {
	c.mu.Lock()
	c.readExpiry = t
	c.mu.Unlock()
	return c.Conn.SetDeadline(t)
}
