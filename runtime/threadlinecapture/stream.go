package threadlinecapture

import (
	"context"
	"encoding/json"
	"errors"
	"net"
	"strconv"
	"time"

	"github.com/jackc/pglogrepl"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgproto3"

	"github.com/threadline-go/threadline/internal/contract"
)

// sessionParams pin the settings that shape the text of the values the
// walsender sends and the images the audit database builds, as the
// trigger engine's capture functions pin them.
var sessionParams = map[string]string{
	"TimeZone":           "UTC",
	"DateStyle":          "ISO, MDY",
	"IntervalStyle":      "postgres",
	"bytea_output":       "hex",
	"extra_float_digits": "1",
}

// txn is one decoded source transaction.
type txn struct {
	xid        uint32
	received   time.Time // when its BEGIN arrived
	commitTime time.Time
	endLSN     pglogrepl.LSN
	changes    []change
	// spilled counts the changes already staged in the audit database
	// (a large transaction: stream.spill); changes holds the rest.
	spilled int
	// attribution from the last threadline message, if any.
	attributed    bool
	startedMicros int64
	actor         *string
	requestID     *string
	correlationID *string
	// action holds the audit_actions row record_action inserted in the
	// transaction (its values in actionRel's column order), if any.
	action    []*string
	actionRel *relation
}

// change is one row change (or a truncate) of a captured table.
type change struct {
	rel *relation
	op  byte // 'i', 'u', 'd', 't'
	// newv and oldv hold the values of the non-excluded columns (nil:
	// NULL); oldv is nil when the stream has no old row.
	newv, oldv []*string
	hasOld     bool
	// xch names the excluded columns whose value changed.
	xch []string
	// keyOnly: oldv holds the old key only (other columns NULL).
	keyOnly bool
	// unknown names the columns of newv whose unchanged TOASTed value was
	// not sent and cannot be taken from an old row: left out of the image.
	unknown []string
	// srcNew and srcOld hold the values of all the columns sent (the
	// excluded ones too), for a relation with generated columns: its
	// generated columns are computed from them. srcOld is nil unless the whole old row is known;
	// srcUnknown names the columns of srcNew whose value is unknown.
	srcNew, srcOld []*string
	srcUnknown     []string
}

// stream is the state of one replication session.
type stream struct {
	c      *Consumer
	rels   map[uint32]*relation
	w      *writer
	conn   *pgconn.PgConn
	cur    *txn
	batch  []*txn
	nBatch int
	first  time.Time // when the batch's first transaction arrived
	// written receives the result of the batch being written, if any
	// (inflight): one batch is written while the next is read.
	written  chan writeResult
	inflight bool
	// open is the audit transaction a large transaction (openFor) is
	// being staged in (spillAfter), then, once it committed, the one its
	// batch is written in (flush).
	open    *batchTx
	openFor *txn
	flushed pglogrepl.LSN
	skipTo  pglogrepl.LSN // transactions ending at or before it are written already
	walEnd  pglogrepl.LSN
}

func (c *Consumer) run(ctx context.Context) error {
	w, err := newWriter(ctx, c.cfg, c.log)
	if err != nil {
		return err
	}
	defer w.close()
	progress, err := w.progress(ctx)
	if err != nil {
		return err
	}

	rcfg, err := pgconn.ParseConfig(c.cfg.SourceURL)
	if err != nil {
		return errorf("source url: %w", err)
	}
	rcfg.RuntimeParams["replication"] = "database"
	rcfg.RuntimeParams["application_name"] = "threadline capture"
	for k, v := range sessionParams {
		rcfg.RuntimeParams[k] = v
	}
	coalesceReads(rcfg)
	conn, err := pgconn.ConnectConfig(ctx, rcfg)
	if err != nil {
		return errorf("replication connection: %w", err)
	}
	defer conn.Close(context.Background())

	if err := w.ensurePublication(ctx, c.cfg.Publication); err != nil {
		return err
	}
	if err := c.ensureSlot(ctx, conn, w, progress); err != nil {
		return err
	}
	args := []string{"proto_version '1'", "publication_names '" + c.cfg.Publication + "'", "messages 'true'"}
	if err := pglogrepl.StartReplication(ctx, conn, c.cfg.Slot, 0, pglogrepl.StartReplicationOptions{PluginArgs: args}); err != nil {
		return errorf("start replication on slot %s: %w", c.cfg.Slot, err)
	}
	c.log.Info("threadline capture: streaming", "slot", c.cfg.Slot, "publication", c.cfg.Publication, "written_up_to", progress.String())
	c.setStatus(func(s *Status) { s.Streaming, s.Err = true, "" })
	s := &stream{c: c, rels: map[uint32]*relation{}, w: w, conn: conn, skipTo: progress, flushed: 0, written: make(chan writeResult, 1)}
	err = s.loop(ctx)
	if s.inflight {
		// Stopped on an error: let the write end before the connections
		// close (it commits or rolls back whole).
		<-s.written
	}
	if s.open != nil {
		// A large transaction stopped half-staged: nothing of it stays.
		s.open.rollback()
	}
	return err
}

// ensureSlot creates the slot when it does not exist.
//
// A slot created for a trail that this consumer wrote before (a row in
// audit_wal_progress) means the old slot was dropped or lost: what
// committed between the last written transaction and the new slot is not
// captured, and the gap is recorded in audit_wal_gaps (threadline doctor
// reports it).
func (c *Consumer) ensureSlot(ctx context.Context, conn *pgconn.PgConn, w *writer, progress pglogrepl.LSN) error {
	exists, err := w.slotExists(ctx, c.cfg.Slot)
	if err != nil {
		return err
	}
	if exists {
		return nil
	}
	res, err := pglogrepl.CreateReplicationSlot(ctx, conn, c.cfg.Slot, "pgoutput", pglogrepl.CreateReplicationSlotOptions{})
	if err != nil {
		return errorf("create slot %s: %w", c.cfg.Slot, err)
	}
	c.log.Warn("threadline capture: created the replication slot; changes committed before it are not captured",
		"slot", c.cfg.Slot, "consistent_point", res.ConsistentPoint)
	if progress != 0 {
		if err := w.recordGap(ctx, c.cfg.Slot, progress, res.ConsistentPoint); err != nil {
			return err
		}
		c.log.Error("threadline capture: the slot was gone: the trail has a gap, recorded in audit_wal_gaps",
			"slot", c.cfg.Slot, "written_up_to", progress.String(), "new_slot_from", res.ConsistentPoint)
	}
	return nil
}

func (s *stream) loop(ctx context.Context) error {
	cfg := s.c.cfg
	nextStatus := time.Now().Add(cfg.StatusInterval)
	nextProgress := time.Now().Add(cfg.ProgressInterval)
	for {
		if time.Now().After(nextProgress) {
			s.progressLine()
			nextProgress = time.Now().Add(cfg.ProgressInterval)
		}
		if ctx.Err() != nil {
			// Clean shutdown: write what is complete, confirm it.
			return s.shutdown()
		}
		if err := s.collect(ctx, false); err != nil {
			return err
		}
		if len(s.batch) > 0 && (s.nBatch >= cfg.BatchChanges || time.Since(s.first) >= cfg.BatchDelay) {
			if err := s.flush(ctx); err != nil {
				return err
			}
		}
		if time.Now().After(nextStatus) {
			if err := s.sendStatus(ctx, false); err != nil {
				return err
			}
			nextStatus = time.Now().Add(cfg.StatusInterval)
		}
		deadline := nextStatus
		if len(s.batch) > 0 {
			if d := s.first.Add(cfg.BatchDelay); d.Before(deadline) {
				deadline = d
			}
		}
		if s.inflight {
			// Notice the write's end soon when the stream is quiet.
			if d := time.Now().Add(10 * time.Millisecond); d.Before(deadline) {
				deadline = d
			}
		}
		// One read deadline on the socket instead of a context per
		// message: pgconn watches a cancellable context with a goroutine
		// per call, which cost more than the decoding. A timeout leaves
		// the connection usable; shutdown is noticed within the deadline.
		if err := s.conn.Conn().SetReadDeadline(deadline); err != nil {
			return errorf("set read deadline: %w", err)
		}
		raw, err := s.conn.ReceiveMessage(context.Background())
		if err != nil {
			var ne net.Error
			if pgconn.Timeout(err) || errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout()) {
				continue
			}
			if ctx.Err() != nil {
				return s.shutdown()
			}
			return errorf("receive: %w", err)
		}
		switch m := raw.(type) {
		case *pgproto3.ErrorResponse:
			return errorf("replication stream: %w", pgconn.ErrorResponseToPgError(m))
		case *pgproto3.CopyData:
			if err := s.copyData(ctx, m.Data); err != nil {
				return err
			}
		}
	}
}

// progressLine logs what was written since start and how far behind the
// trail is: the age of the oldest commit waiting to be written and the
// WAL between the server's end and the confirmed position.
func (s *stream) progressLine() {
	st := s.c.Status()
	lag := time.Duration(0)
	if len(s.batch) > 0 {
		lag = time.Since(s.batch[0].commitTime)
	}
	s.c.log.Info("threadline capture: progress", "transactions", st.Transactions, "changes", st.Changes,
		"lag_ms", lag.Milliseconds(), "wal_behind_bytes", s.behind(), "flushed_lsn", st.Flushed)
}

// behind is the WAL between the server's end and the confirmed position.
func (s *stream) behind() int64 {
	return int64(uint64(s.walEnd) - uint64(min(s.flushed, s.walEnd)))
}

// shutdown writes the complete transactions held and confirms them.
func (s *stream) shutdown() error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if len(s.batch) > 0 {
		if err := s.flush(ctx); err != nil {
			return err
		}
	}
	if err := s.collect(ctx, true); err != nil {
		return err
	}
	return s.sendStatus(ctx, false)
}

func (s *stream) copyData(ctx context.Context, data []byte) error {
	if len(data) == 0 {
		return nil
	}
	switch data[0] {
	case pglogrepl.PrimaryKeepaliveMessageByteID:
		ka, err := pglogrepl.ParsePrimaryKeepaliveMessage(data[1:])
		if err != nil {
			return errorf("keepalive: %w", err)
		}
		s.serverEnd(ka.ServerWALEnd)
		if ka.ReplyRequested {
			return s.sendStatus(ctx, false)
		}
	case pglogrepl.XLogDataByteID:
		x, err := pglogrepl.ParseXLogData(data[1:])
		if err != nil {
			return errorf("xlog data: %w", err)
		}
		s.serverEnd(x.ServerWALEnd)
		return s.decode(ctx, x.WALData)
	}
	return nil
}

func (s *stream) serverEnd(l pglogrepl.LSN) {
	if l > s.walEnd {
		s.walEnd = l
		b := s.behind()
		s.c.setStatus(func(st *Status) { st.ServerEnd, st.WALBehind = lsnString(l), b })
	}
}

// sendStatus confirms the flush position. With no transaction open or
// waiting, everything the server sent is accounted for, so its WAL end is
// confirmed: the slot then advances while the captured tables are idle,
// and WAL of other tables is not retained.
func (s *stream) sendStatus(ctx context.Context, reply bool) error {
	if s.cur == nil && len(s.batch) == 0 && !s.inflight && s.walEnd > s.flushed {
		s.flushed = s.walEnd
	}
	if s.flushed == 0 {
		return nil
	}
	err := pglogrepl.SendStandbyStatusUpdate(ctx, s.conn, pglogrepl.StandbyStatusUpdate{
		WALWritePosition: s.flushed, WALFlushPosition: s.flushed, WALApplyPosition: s.flushed, ReplyRequested: reply,
	})
	if err != nil {
		return errorf("standby status: %w", err)
	}
	fl, b := s.flushed, s.behind()
	s.c.setStatus(func(st *Status) { st.Flushed, st.WALBehind = lsnString(fl), b })
	return nil
}

// decode handles one pgoutput message.
func (s *stream) decode(ctx context.Context, data []byte) error {
	msg, err := pglogrepl.Parse(data)
	if err != nil {
		return errorf("decode pgoutput: %w", err)
	}
	switch m := msg.(type) {
	case *pglogrepl.RelationMessage:
		r, err := s.w.relation(ctx, m)
		if err != nil {
			return err
		}
		s.rels[m.RelationID] = r
	case *pglogrepl.BeginMessage:
		s.cur = &txn{xid: m.Xid, received: time.Now()}
	case *pglogrepl.CommitMessage:
		t := s.cur
		s.cur = nil
		if t == nil {
			return errorf("commit without begin at %s", m.CommitLSN)
		}
		t.commitTime, t.endLSN = m.CommitTime, m.TransactionEndLSN
		n := t.spilled + len(t.changes)
		if t.spilled > 0 {
			s.c.log.Debug("threadline capture: large transaction received", "xid", t.xid, "changes", n,
				"receive_ms", time.Since(t.received).Milliseconds(), "since_commit_ms", time.Since(t.commitTime).Milliseconds())
		}
		// A transaction that only recorded an action needs a header of
		// its own when the trail is on another database; in the captured
		// database, record_action wrote it.
		keep := n > 0 || (t.action != nil && !s.w.sameDB)
		if t.endLSN <= s.skipTo && s.openFor == t {
			// Staged while it arrived, but written before a restart.
			s.open.rollback()
			s.open, s.openFor = nil, nil
		}
		if t.endLSN <= s.skipTo || !keep {
			// Written before a restart, or nothing captured: confirmable
			// once nothing earlier waits.
			if len(s.batch) == 0 && !s.inflight && t.endLSN > s.flushed {
				s.flushed = t.endLSN
			}
			return nil
		}
		if len(s.batch) == 0 {
			s.first = time.Now()
		}
		s.batch = append(s.batch, t)
		s.nBatch += n
	case *pglogrepl.LogicalDecodingMessage:
		if s.cur == nil || !m.Transactional || m.Prefix != contract.WALMessagePrefix {
			return nil
		}
		s.cur.attribute(m.Content, s.c)
	case *pglogrepl.InsertMessage:
		return s.spillAfter(ctx, s.row(m.RelationID, 'i', 0, nil, m.Tuple))
	case *pglogrepl.UpdateMessage:
		return s.spillAfter(ctx, s.row(m.RelationID, 'u', m.OldTupleType, m.OldTuple, m.NewTuple))
	case *pglogrepl.DeleteMessage:
		return s.spillAfter(ctx, s.row(m.RelationID, 'd', m.OldTupleType, m.OldTuple, nil))
	case *pglogrepl.TruncateMessage:
		if s.cur == nil {
			return errorf("truncate outside a transaction")
		}
		for _, id := range m.RelationIDs {
			r := s.rels[id]
			if r == nil {
				return errorf("truncate of relation %d before its relation message", id)
			}
			if r.cap == nil {
				continue
			}
			// A TRUNCATE of several partitioned tables' roots names each
			// once; record one truncate per captured table.
			s.cur.changes = append(s.cur.changes, change{rel: r, op: 't'})
		}
	}
	return nil
}

// attribute reads a threadline message: the last one in a transaction
// wins, as the last set_config does with the trigger engine.
func (t *txn) attribute(content []byte, c *Consumer) {
	var m struct {
		S string  `json:"s"`
		A *string `json:"a"`
		R *string `json:"r"`
		C *string `json:"c"`
	}
	if err := json.Unmarshal(content, &m); err != nil {
		c.log.Warn("threadline capture: unreadable attribution message ignored", "xid", t.xid, "err", err)
		return
	}
	micros, err := strconv.ParseInt(m.S, 10, 64)
	if err != nil {
		c.log.Warn("threadline capture: attribution message without a transaction start ignored", "xid", t.xid)
		return
	}
	t.attributed, t.startedMicros, t.actor, t.requestID, t.correlationID = true, micros, m.A, m.R, m.C
}

// row records one row change. oldType is 'O' for a whole old row
// (replica identity FULL), 'K' for its key only.
func (s *stream) row(relID uint32, op byte, oldType uint8, oldT, newT *pglogrepl.TupleData) error {
	if s.cur == nil {
		return errorf("row change outside a transaction")
	}
	r := s.rels[relID]
	if r == nil {
		return errorf("change of relation %d before its relation message", relID)
	}
	if r.actions {
		// record_action's insert; the retention purge's deletes are not
		// the trail's business.
		if op == 'i' && newT != nil {
			s.cur.action, s.cur.actionRel = textValues(newT.Columns), r
		}
		return nil
	}
	if r.cap == nil {
		return nil
	}
	ch := change{rel: r, op: op}
	var oldRaw, newRaw []*pglogrepl.TupleDataColumn
	if oldT != nil {
		oldRaw = oldT.Columns
	}
	if newT != nil {
		newRaw = newT.Columns
	}
	// A key-only old row (replica identity default or an index): the
	// old values of the other columns are unknown.
	ch.keyOnly = oldRaw != nil && oldType == pglogrepl.UpdateMessageTupleTypeKey
	n := len(r.imageCols)
	if newRaw != nil {
		ch.newv = make([]*string, n)
	}
	if oldRaw != nil {
		ch.oldv, ch.hasOld = make([]*string, n), true
	}
	for j, i := range r.imageCols {
		if oldRaw != nil {
			v, _ := tupleValue(oldRaw, i)
			ch.oldv[j] = v
		}
		if newRaw != nil {
			v, unchanged := tupleValue(newRaw, i)
			if unchanged {
				if oldRaw == nil || ch.keyOnly {
					// Not sent, and no old row to take it from (replica
					// identity is not FULL): left out of the image.
					ch.unknown = append(ch.unknown, r.cols[i].name)
				} else {
					v = ch.oldv[j]
				}
			}
			ch.newv[j] = v
		}
	}
	if op == 'u' && oldRaw != nil && !ch.keyOnly {
		for _, i := range r.excludedCols {
			ov, _ := tupleValue(oldRaw, i)
			nv, unchanged := tupleValue(newRaw, i)
			if unchanged {
				continue
			}
			if (ov == nil) != (nv == nil) || (ov != nil && *ov != *nv) {
				ch.xch = append(ch.xch, r.cols[i].name)
			}
		}
	}
	if len(r.gen) > 0 {
		genInputs(&ch, oldRaw, newRaw)
	}
	s.cur.changes = append(s.cur.changes, ch)
	return nil
}

// tupleValue returns the value of column i of a tuple (nil: NULL), or
// that it is an unchanged TOASTed value, not sent.
func tupleValue(cols []*pglogrepl.TupleDataColumn, i int) (v *string, unchanged bool) {
	if i >= len(cols) {
		return nil, false
	}
	switch cols[i].DataType {
	case pglogrepl.TupleDataTypeText, pglogrepl.TupleDataTypeBinary:
		x := string(cols[i].Data)
		return &x, false
	case pglogrepl.TupleDataTypeToast:
		return nil, true
	}
	return nil, false
}

// writeResult is the outcome of one batch write.
type writeResult struct {
	batch    []*txn
	changes  int
	start    time.Time
	duration time.Duration
	err      error
}

// flush hands the batch to a writer goroutine, after the batch written
// before it (if still in flight) committed: one batch is written while
// the stream's next transactions are read and decoded, so the walsender,
// this process and the audit database's backend work at once.
func (s *stream) flush(ctx context.Context) error {
	if err := s.collect(ctx, true); err != nil {
		return err
	}
	batch, open := s.batch, s.open
	s.batch, s.nBatch, s.inflight, s.open, s.openFor = nil, 0, true, nil, nil
	// A write is not cancelled by shutdown: shutdown waits for it.
	wctx := context.WithoutCancel(ctx)
	go func() {
		start := time.Now()
		n, err := s.w.write(wctx, open, batch, s.c.cfg.Slot)
		s.written <- writeResult{batch: batch, changes: n, start: start, duration: time.Since(start), err: err}
	}()
	return nil
}

// spillAfter stages the current transaction's changes in the audit
// database once it holds SpillChanges of them (err is the row's error,
// passed through), so that a transaction of any size is held in memory
// SpillChanges changes at a time. The large transaction's batch starts
// with it: the complete transactions waiting are written first, and the
// write in flight must end (the audit connection is the writer's).
func (s *stream) spillAfter(ctx context.Context, err error) error {
	if err != nil || s.cur == nil || len(s.cur.changes) < s.c.cfg.SpillChanges {
		return err
	}
	if s.openFor != s.cur {
		// Complete transactions wait (with the staged one they follow,
		// if any): they are written first.
		if len(s.batch) > 0 {
			if err := s.flush(ctx); err != nil {
				return err
			}
		}
		if err := s.collect(ctx, true); err != nil {
			return err
		}
		if s.open, err = s.w.begin(ctx); err != nil {
			return err
		}
		s.openFor = s.cur
	}
	if err := s.open.stage(ctx, [][]change{s.cur.changes}); err != nil {
		return err
	}
	s.cur.spilled += len(s.cur.changes)
	s.cur.changes = nil
	return nil
}

// collect takes the in-flight write's result (waiting for it when wait
// is set), reports it to the hooks and confirms its end.
func (s *stream) collect(ctx context.Context, wait bool) error {
	if !s.inflight {
		return nil
	}
	var r writeResult
	if wait {
		r = <-s.written
	} else {
		select {
		case r = <-s.written:
		default:
			return nil
		}
	}
	s.inflight = false
	last := r.batch[len(r.batch)-1]
	if h := s.c.cfg.Hooks.BatchWritten; h != nil {
		commits := make([]time.Time, len(r.batch))
		for i, t := range r.batch {
			commits[i] = t.commitTime
		}
		h(ctx, BatchEvent{Slot: s.c.cfg.Slot, Transactions: len(r.batch), Changes: r.changes, Commits: commits,
			EndLSN: last.endLSN.String(), Start: r.start, Duration: r.duration, Err: r.err})
	}
	if r.err != nil {
		return r.err
	}
	if last.endLSN > s.flushed {
		s.flushed = last.endLSN
	}
	txs := int64(len(r.batch))
	s.c.setStatus(func(st *Status) {
		st.Transactions += txs
		st.Changes += int64(r.changes)
		st.LastCommit = last.commitTime
		st.LastWrite = r.start.Add(r.duration)
	})
	s.c.log.Debug("threadline capture: batch written", "transactions", txs, "changes", r.changes, "ms", r.duration.Milliseconds(), "lsn", last.endLSN.String())
	return s.sendStatus(ctx, false)
}

// textValues returns a tuple's values as text (nil: NULL or not sent).
func textValues(cols []*pglogrepl.TupleDataColumn) []*string {
	out := make([]*string, len(cols))
	for i := range cols {
		out[i], _ = tupleValue(cols, i)
	}
	return out
}
