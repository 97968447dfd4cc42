package threadlineui

import (
	"context"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/threadline-go/threadline/internal/trailread"
)

// The seal state of transactions (threadline seal): a badge on each change
// of a list and on a transaction's page saying whether a seal covers its
// transaction. A transaction is sealed when the entries of a seal
// (audit_seal_entries) hold it (trailread.SealMarks). Nothing records the
// results of threadline verify, so the viewer cannot show one.

// Seal states of a transaction.
const (
	// sealNever: the trail was never sealed.
	sealNever = "never"
	// sealSealed: a seal's entries hold the transaction.
	sealSealed = "sealed"
	// sealPending: no seal has seen the transaction yet (it committed
	// after the latest seal); the next threadline seal covers it.
	sealPending = "pending"
	// sealMissing: the seal whose snapshot first saw the transaction does
	// not hold it: it was written after that seal with an old transaction
	// id, or the seal tables were changed; threadline verify says which.
	sealMissing = "missing"
)

// sealBadge is a transaction's seal state as the pages show it.
type sealBadge struct {
	// State is one of the seal states above.
	State string
	// Seal is the seal that covers the transaction (sealed), or that saw
	// it without holding it (missing).
	Seal int64
	// SealedAt is when Seal was made.
	SealedAt time.Time
	// Latest is the latest seal (0 when never sealed).
	Latest int64
}

// sealBadges reads the seal state of the transactions ids.
func (h *handler) sealBadges(ctx context.Context, tx pgx.Tx, ids []int64) (map[int64]sealBadge, error) {
	latest, marks, err := (trailread.Trail{Schema: h.o.Audit.Schema}).SealMarks(ctx, tx, ids)
	if err != nil {
		return nil, err
	}
	out := make(map[int64]sealBadge, len(ids))
	for _, id := range ids {
		b := sealBadge{State: sealNever, Latest: latest}
		if m, ok := marks[id]; ok {
			b.Seal, b.SealedAt, b.State = m.Seal, m.SealedAt, sealMissing
			if m.Sealed {
				b.State = sealSealed
			}
		} else if latest > 0 {
			b.State = sealPending
		}
		out[id] = b
	}
	return out, nil
}

// markSealed sets the seal badge of each change of the lists, with one
// read for the page; a trail never sealed gets no badges (the home page
// says it was never sealed).
func (h *handler) markSealed(ctx context.Context, tx pgx.Tx, lists ...[]changeView) error {
	var ids []int64
	for _, cs := range lists {
		for _, c := range cs {
			if len(ids) == 0 || ids[len(ids)-1] != c.TransactionID {
				ids = append(ids, c.TransactionID)
			}
		}
	}
	if len(ids) == 0 {
		return nil
	}
	badges, err := h.sealBadges(ctx, tx, ids)
	if err != nil {
		return err
	}
	for _, cs := range lists {
		for i := range cs {
			if b := badges[cs[i].TransactionID]; b.State != sealNever {
				cs[i].Seal = &b
			}
		}
	}
	return nil
}

// readLatestSeal reads the latest seal for the home page.
func (h *handler) readLatestSeal(ctx context.Context, tx pgx.Tx) (trailread.LatestSeal, error) {
	return (trailread.Trail{Schema: h.o.Audit.Schema}).ReadLatestSeal(ctx, tx)
}
