package threadlinecapture

import (
	"context"
	"log/slog"
	"slices"
	"strconv"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/contract"
)

// batchTx is one audit-database transaction being filled: a batch of
// whole source transactions, the first of which may have been staged in
// pieces while it arrived (a large transaction: Config.SpillChanges).
// Staging copies changes into the session's pg_temp.tl_stage; finish
// builds their images, writes the headers, the changes and the progress,
// and commits.
type batchTx struct {
	w     *writer
	tx    pgx.Tx
	phase *phases
	seq   int32               // the last change's position in the batch
	rels  map[int32]*relation // the relations of the staged changes
}

// begin opens a batch's audit transaction.
func (w *writer) begin(ctx context.Context) (*batchTx, error) {
	phase := newPhases()
	tx, err := w.audit.Begin(ctx)
	if err != nil {
		return nil, errorf("begin audit transaction: %w", err)
	}
	return &batchTx{w: w, tx: tx, phase: phase, rels: map[int32]*relation{}}, nil
}

// rollback ends the transaction unless it committed.
func (b *batchTx) rollback() { _ = b.tx.Rollback(context.Background()) }

// write writes a batch in one audit transaction (b, already holding the
// staged part of the first transaction, or a new one when nil) and
// returns the number of changes stored.
func (w *writer) write(ctx context.Context, b *batchTx, batch []*txn, slot string) (int, error) {
	if b == nil {
		var err error
		if b, err = w.begin(ctx); err != nil {
			return 0, err
		}
	}
	defer b.rollback()
	changes := make([][]change, len(batch))
	for i, t := range batch {
		changes[i] = t.changes
	}
	if err := b.stage(ctx, changes); err != nil {
		return 0, err
	}
	return b.finish(ctx, batch, slot)
}

// stage copies changes into pg_temp.tl_stage in one COPY, with their
// generated columns (computed in the source database): changes[i] are
// changes of the batch's transaction number i, or, for a large
// transaction staged while it arrives, changes[0] a piece of the first.
func (b *batchTx) stage(ctx context.Context, changes [][]change) error {
	gens, err := b.w.computeGenerated(ctx, changes)
	if err != nil {
		return err
	}
	var rows [][]any
	for tx, chs := range changes {
		for j := range chs {
			ch := &chs[j]
			b.seq++
			b.rels[ch.rel.index] = ch.rel
			var n, o any
			if ch.newv != nil {
				n = ch.newv
			}
			if ch.hasOld {
				o = ch.oldv
			}
			g := gens[ch]
			xch := ch.xch
			if len(g.xch) > 0 {
				xch = append(slices.Clone(xch), g.xch...)
			}
			rows = append(rows, []any{b.seq, int32(tx), ch.rel.index, opNames[ch.op], n, o, xch, ch.keyOnly, ch.unknown, g.n, g.o})
		}
	}
	if len(rows) == 0 {
		return nil
	}
	if _, err := b.tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", "tl_stage"}, []string{"seq", "tx", "rel", "op", "n", "o", "xch", "ko", "nu", "gn", "gold"}, pgx.CopyFromRows(rows)); err != nil {
		return errorf("stage changes: %w", err)
	}
	b.phase.mark("stage")
	return nil
}

// finish writes the staged batch: its transactions, actions, images,
// headers and changes, and the progress, and commits.
func (b *batchTx) finish(ctx context.Context, batch []*txn, slot string) (int, error) {
	w, tx := b.w, b.tx
	next, err := w.epoch(ctx)
	if err != nil {
		return 0, err
	}
	if err := stageTransactions(ctx, tx, batch, next, w.sameDB); err != nil {
		return 0, err
	}
	b.phase.mark("transactions")
	idx := make([]int32, 0, len(b.rels))
	for i := range b.rels {
		idx = append(idx, i)
	}
	slices.Sort(idx)
	for _, i := range idx {
		if _, err := tx.Exec(ctx, b.rels[i].sql, i); err != nil {
			return 0, errorf("build images of %s.%s: %w", b.rels[i].schema, b.rels[i].name, err)
		}
	}
	b.phase.mark("images")
	if _, err := tx.Exec(ctx, w.headerSQL()); err != nil {
		return 0, errorf("write transaction headers: %w", err)
	}
	// Each transaction's header id, looked up once per transaction.
	if _, err := tx.Exec(ctx, `UPDATE pg_temp.tl_tx AS t SET hid = h.id FROM `+w.s+`.audit_transactions AS h
WHERE h.txid = pg_current_xact_id() AND h.started_at = t.started_at`); err != nil {
		return 0, errorf("find transaction headers: %w", err)
	}
	b.phase.mark("headers")
	tag, err := tx.Exec(ctx, `INSERT INTO `+w.s+`.audit_changes (transaction_id, table_schema, table_name, table_pk, table_pk_before, op,
    data_after, data_before, changed_fields, changed_from, captured_at)
SELECT t.hid, o.table_schema, o.table_name, o.table_pk, o.table_pk_before, o.op, o.data_after, o.data_before,
    o.changed_fields, o.changed_from, t.commit_at
FROM pg_temp.tl_out AS o JOIN pg_temp.tl_tx AS t ON t.tx = o.tx
ORDER BY o.seq`)
	if err != nil {
		return 0, errorf("write changes: %w", err)
	}
	b.phase.mark("changes")
	last := batch[len(batch)-1].endLSN
	if _, err := tx.Exec(ctx, `INSERT INTO `+w.s+`.audit_wal_progress (slot, lsn) VALUES ($1, $2::pg_lsn)
ON CONFLICT (slot) DO UPDATE SET lsn = EXCLUDED.lsn, updated_at = clock_timestamp()`, slot, last.String()); err != nil {
		return 0, errorf("record progress: %w", err)
	}
	if err := tx.Commit(ctx); err != nil {
		return 0, errorf("commit batch ending at %s: %w", last, err)
	}
	b.phase.mark("commit")
	if w.log.Enabled(ctx, slog.LevelDebug) {
		w.log.Debug("threadline capture: batch phases", b.phase.attrs()...)
	}
	return int(tag.RowsAffected()), nil
}

// epoch returns the source's next transaction id, read at most once a
// second: a batch's transactions are older than the next id read after
// they committed, and an epoch lasts 2^32 transactions (see xid8).
func (w *writer) epoch(ctx context.Context) (uint64, error) {
	if time.Since(w.nextAt) > time.Second || w.nextXid == 0 {
		if err := w.source.QueryRow(ctx, `SELECT pg_snapshot_xmax(pg_current_snapshot())::text::int8`).Scan(&w.nextXid); err != nil {
			return 0, errorf("read the source's transaction id epoch: %w", err)
		}
		w.nextAt = time.Now()
	}
	return w.nextXid, nil
}

// stageTransactions copies the batch's transactions into pg_temp.tl_tx,
// and their actions, for a trail on another database, into its
// audit_actions.
//
// The batch's headers share the audit transaction's id (seal covers a
// header by the transaction that wrote it), so their (txid, started_at)
// keys must differ by start time: two source transactions that started
// (or, unattributed, committed) in the same microsecond are a
// microsecond apart in the trail.
func stageTransactions(ctx context.Context, tx pgx.Tx, batch []*txn, next uint64, sameDB bool) error {
	rows := make([][]any, 0, len(batch))
	var actions [][]any
	actionRels := map[int32]*relation{}
	starts := make(map[time.Time]bool, len(batch))
	for i, t := range batch {
		started := t.commitTime.Truncate(time.Microsecond)
		if t.attributed {
			started = time.UnixMicro(t.startedMicros)
		}
		for starts[started] {
			started = started.Add(time.Microsecond)
		}
		starts[started] = true
		rows = append(rows, []any{int32(i), xid8(t.xid, next), started, t.commitTime, t.actor, t.requestID, t.correlationID, actionID(t)})
		if t.action != nil && !sameDB {
			actions = append(actions, []any{int32(i), t.actionRel.index, t.action})
			actionRels[t.actionRel.index] = t.actionRel
		}
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", "tl_tx"}, []string{"tx", "xid", "started_at", "commit_at", "actor", "request_id", "correlation_id", "action_id"}, pgx.CopyFromRows(rows)); err != nil {
		return errorf("stage transactions: %w", err)
	}
	return copyActions(ctx, tx, actions, actionRels)
}

// headerSQL writes the headers: one per source transaction that left a
// change (or, with the trail on another database, recorded an action),
// with the audit transaction's id as txid (seal() covers a header by the
// transaction that wrote it, as the trigger engine's are) and the source
// transaction's id in meta.
//
// The action is the one whose insert came with the transaction; in the
// captured database, an install whose publication predates
// audit_actions' membership finds it by the header record_action wrote
// (by the source txid and a start before the commit).
func (w *writer) headerSQL() string {
	s := w.s
	action := `t.action_id`
	written := `EXISTS (SELECT FROM pg_temp.tl_out AS o WHERE o.tx = t.tx)`
	if w.sameDB {
		action = `coalesce(t.action_id, (SELECT h.action_id FROM ` + s + `.audit_transactions AS h
            WHERE h.txid = t.xid::text::xid8 AND h.started_at <= t.commit_at AND h.started_at > t.commit_at - interval '1 day'
              AND h.source IS DISTINCT FROM 'wal' AND h.action_id IS NOT NULL
            ORDER BY h.started_at DESC LIMIT 1))`
	} else {
		written += ` OR t.action_id IS NOT NULL`
	}
	return `INSERT INTO ` + s + `.audit_transactions (txid, started_at, actor_ref, actor_ref_invalid, request_id, correlation_id, source, meta, action_id)
SELECT pg_current_xact_id(), x.started_at, x.actor_ref, CASE WHEN x.actor_ref IS NULL THEN left(x.raw, ` + strconv.Itoa(contract.MaxActorRefBytes) + `) END,
    left(nullif(x.request_id, ''), ` + strconv.Itoa(contract.MaxIDChars) + `), left(nullif(x.correlation_id, ''), ` + strconv.Itoa(contract.MaxIDChars) + `),
    'wal', jsonb_build_object('xid', x.xid::text), x.action_id
FROM (SELECT t.tx, t.xid, t.started_at, nullif(t.actor, '') AS raw,
        ` + s + `.parse_actor_ref(nullif(t.actor, '')) AS actor_ref, t.request_id, t.correlation_id, ` + action + ` AS action_id
    FROM pg_temp.tl_tx AS t
    WHERE ` + written + `) AS x
ORDER BY x.tx`
}

// copyActions stages the batch's actions and copies them to the trail's
// audit_actions (a trail on another database), before the headers that
// link them.
func copyActions(ctx context.Context, tx pgx.Tx, actions [][]any, rels map[int32]*relation) error {
	if len(actions) == 0 {
		return nil
	}
	if _, err := tx.CopyFrom(ctx, pgx.Identifier{"pg_temp", "tl_action"}, []string{"tx", "rel", "v"}, pgx.CopyFromRows(actions)); err != nil {
		return errorf("stage actions: %w", err)
	}
	for i, r := range rels {
		if _, err := tx.Exec(ctx, r.sql, i); err != nil {
			return errorf("copy actions: %w", err)
		}
	}
	return nil
}

// phases times the steps of a batch write (logged at debug level).
type phases struct {
	last  time.Time
	names []string
	took  []time.Duration
}

func newPhases() *phases { return &phases{last: time.Now()} }

func (p *phases) mark(name string) {
	now := time.Now()
	p.names, p.took = append(p.names, name), append(p.took, now.Sub(p.last))
	p.last = now
}

func (p *phases) attrs() []any {
	out := make([]any, 0, 2*len(p.names))
	for i, n := range p.names {
		out = append(out, n+"_ms", p.took[i].Milliseconds())
	}
	return out
}
