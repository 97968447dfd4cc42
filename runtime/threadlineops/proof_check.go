package threadlineops

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/threadline-go/threadline/internal/contract"
)

// ProofReport is what CheckProofs proved.
type ProofReport struct {
	// Changes counts the exported changes proven (every change line).
	Changes int64 `json:"changes"`
	// FirstSeal and LastSeal are the seals of the proof lines, the last
	// one being the seal of Head; both 0 when the file holds no change.
	FirstSeal int64 `json:"first_seal"`
	LastSeal  int64 `json:"last_seal"`
	// Head is the recorded head checked against (hex).
	Head string `json:"head"`
}

// ErrProofFailed is wrapped by CheckProofs' error when the file does not
// prove its changes.
var ErrProofFailed = errors.New("threadline: proof failed")

// maxProofLine bounds the length of one line of a proof file.
const maxProofLine = 1 << 30

// CheckProofs checks an NDJSON export with its proof lines (WriteProofs)
// read from r against a head recorded elsewhere (hex), as its recipient
// would, without the database. It checks that every change line shows,
// field by field, the canonical record of its proof_change line and of
// its transaction's proof_transaction line; that the digests of those
// records are the ones the transaction's seal entry holds; that the entry
// hashes to the one its seal lists, which gives the seal's head; and that
// the seals, each head recomputed from its fields, form an unbroken chain
// from the seal of the first exported change to the seal whose head is
// head. A change line without a proof, a proof line that proves no change
// line, a line given twice and anything out of its place fail. The error
// wraps ErrProofFailed and names the first line that does not check.
func CheckProofs(r io.Reader, head string) (ProofReport, error) {
	want, err := decodeHead(head)
	if err != nil {
		return ProofReport{}, fmt.Errorf("proofs: %w", err)
	}
	c, err := newProofChecker(want)
	if err != nil {
		return ProofReport{}, err
	}
	br := bufio.NewReaderSize(r, 64<<10)
	for {
		b, err := readProofLine(br)
		if len(b) > 0 || err == nil {
			c.line++
			if cerr := c.handle(b); cerr != nil {
				return ProofReport{}, cerr
			}
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return ProofReport{}, fmt.Errorf("proofs: line %d: %w", c.line+1, err)
		}
	}
	return c.finish()
}

// readProofLine reads one line without its newline.
func readProofLine(br *bufio.Reader) ([]byte, error) {
	var line []byte
	for {
		b, err := br.ReadSlice('\n')
		line = append(line, b...)
		if len(line) > maxProofLine {
			return nil, fmt.Errorf("longer than %d bytes", maxProofLine)
		}
		if !errors.Is(err, bufio.ErrBufferFull) {
			return bytes.TrimSuffix(line, []byte("\n")), err
		}
	}
}

// The phases of a proof file, in order.
const (
	phaseChanges = iota
	phaseTransactions
	phaseSeals
)

// proofChecker holds what CheckProofs has read so far.
type proofChecker struct {
	want    []byte
	fields  []exportField
	line    int
	phase   int
	changes map[int64]*exportedChange
	// pending counts, per transaction, its change lines not proven yet;
	// exported lists its proven changes until its transaction is.
	pending  map[int64]int
	exported map[int64][]*exportedChange
	headers  map[int64]map[string]*exportedChange
	txs      map[int64]*provenTx
	bySeal   map[int64][]int64
	minSeal  int64
	// first and last are the seals read; headAt is the seal whose head is
	// want.
	first, headAt int64
	last          *proofSealLine
}

// exportedChange is a change line: its raw line until its proof is read,
// then what its transaction's proof checks.
type exportedChange struct {
	id, tx     int64
	line       int
	raw        []byte
	proven     bool
	proofLine  int
	digest     []byte
	capturedAt time.Time
	header     map[string]any
}

// provenTx is a transaction whose proof checked, waiting for its seal.
type provenTx struct {
	id, seal          int64
	line              int
	digest, entryHash []byte
}

func newProofChecker(want []byte) (*proofChecker, error) {
	fields, err := bindExportFields()
	if err != nil {
		return nil, err
	}
	return &proofChecker{want: want, fields: fields, changes: map[int64]*exportedChange{}, pending: map[int64]int{},
		exported: map[int64][]*exportedChange{}, headers: map[int64]map[string]*exportedChange{},
		txs: map[int64]*provenTx{}, bySeal: map[int64][]int64{}}, nil
}

// fail returns the error of the current line.
func (c *proofChecker) fail(format string, args ...any) error {
	return fmt.Errorf("%w: line %d: %s", ErrProofFailed, c.line, fmt.Sprintf(format, args...))
}

// proofLine is a proof line: exactly one of its fields is set.
type proofLine struct {
	Change      *proofChangeLine      `json:"proof_change"`
	Transaction *proofTransactionLine `json:"proof_transaction"`
	Seal        *proofSealLine        `json:"proof_seal"`
}

// proofSealLine is a proof_seal line.
type proofSealLine struct {
	ID            int64        `json:"id"`
	Version       int          `json:"version"`
	Snapshot      *string      `json:"snapshot"`
	PrevHead      hexHash      `json:"prev_head"`
	Head          hexHash      `json:"head"`
	PurgesDigest  hexHash      `json:"purges_digest"`
	EntriesDigest hexHash      `json:"entries_digest"`
	Chunks        []proofChunk `json:"chunks"`
	Transactions  *[]idHash    `json:"transactions"`
}

// proofChunk is one chunk of a version 2 seal's entries: its hash, or
// every entry hash in it.
type proofChunk struct {
	Hash    hexHash  `json:"hash"`
	Entries []idHash `json:"entries"`
}

// handle checks one line.
func (c *proofChecker) handle(b []byte) error {
	v, err := parseJSON(b)
	if err != nil {
		return c.fail("not a JSON line: %v", err)
	}
	m, ok := v.(map[string]any)
	if !ok {
		return c.fail("not a JSON object")
	}
	if !isProofLine(m) {
		return c.changeLine(b, m)
	}
	var l proofLine
	dec := json.NewDecoder(bytes.NewReader(b))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&l); err != nil {
		return c.fail("not a proof line: %v", err)
	}
	switch {
	case l.Change != nil:
		return c.proofChange(l.Change)
	case l.Transaction != nil:
		return c.proofTransaction(l.Transaction)
	case l.Seal != nil:
		return c.proofSeal(l.Seal)
	}
	return c.fail("an empty proof line")
}

// isProofLine reports whether a line's object is a proof line: one key,
// proof_….
func isProofLine(m map[string]any) bool {
	for k := range m {
		return len(m) == 1 && strings.HasPrefix(k, "proof_")
	}
	return false
}

// changeLine reads an exported change: every key of an export, no other.
func (c *proofChecker) changeLine(b []byte, m map[string]any) error {
	if c.phase != phaseChanges {
		return c.fail("a change line after the proof lines")
	}
	for _, f := range c.fields {
		if _, ok := m[f.key]; !ok {
			return c.fail("not an exported change: it has no %q", f.key)
		}
	}
	if len(m) != len(c.fields) {
		for k := range m {
			if !slices.ContainsFunc(c.fields, func(f exportField) bool { return f.key == k }) {
				return c.fail("%q is not a field of an exported change: no seal covers it", k)
			}
		}
	}
	id, idOK := jsonInt(m["id"])
	tx, txOK := jsonInt(m["transaction_id"])
	if !idOK || !txOK {
		return c.fail("the id or transaction_id of the change is not an integer")
	}
	if p := c.changes[id]; p != nil {
		return c.fail("change %d again (line %d)", id, p.line)
	}
	c.changes[id] = &exportedChange{id: id, tx: tx, line: c.line, raw: slices.Clone(b)}
	c.pending[tx]++
	return nil
}

func jsonInt(v any) (int64, bool) {
	n, ok := v.(json.Number)
	if !ok {
		return 0, false
	}
	i, err := strconv.ParseInt(string(n), 10, 64)
	return i, err == nil
}

// proofChange checks a change line against its record.
func (c *proofChecker) proofChange(p *proofChangeLine) error {
	if c.phase > phaseTransactions {
		return c.fail("a change proof after the seal proofs")
	}
	c.phase = phaseTransactions
	d := c.changes[p.ID]
	switch {
	case d == nil:
		return c.fail("a proof of change %d, which is not in the export", p.ID)
	case d.proven:
		return c.fail("a second proof of change %d (line %d)", p.ID, d.proofLine)
	case c.txs[d.tx] != nil:
		return c.fail("the proof of change %d comes after the proof of its transaction %d (line %d)", p.ID, d.tx, c.txs[d.tx].line)
	}
	rec, err := parseRecord(p.Record, 'C', len(contract.SealChangeFields()))
	if err != nil {
		return c.fail("change %d: its record is malformed: %v", p.ID, err)
	}
	v, err := parseJSON(d.raw)
	if err != nil {
		return c.fail("change %d: %v", p.ID, err)
	}
	m := v.(map[string]any)
	header := map[string]any{}
	for _, f := range c.fields {
		if f.tx {
			header[f.key] = m[f.key]
		} else if !fieldMatches(f.cmp, m[f.key], rec[f.index]) {
			return c.fail("change %d (line %d): its %s is not the one in its record", p.ID, d.line, f.key)
		}
	}
	at, ok := recordTime(rec[recordField(contract.SealChangeFields(), "c.captured_at")])
	if !ok {
		return c.fail("change %d: its record has no capture time", p.ID)
	}
	digest := sha256.Sum256(p.Record)
	*d = exportedChange{id: d.id, tx: d.tx, line: d.line, proven: true, proofLine: c.line, digest: digest[:], capturedAt: at}
	c.pending[d.tx]--
	c.exported[d.tx] = append(c.exported[d.tx], d)
	c.addHeader(d, header)
	return nil
}

// addHeader keeps the distinct transaction fields shown by the changes of
// a transaction, for its proof to check.
func (c *proofChecker) addHeader(d *exportedChange, header map[string]any) {
	key, _ := json.Marshal(header) // parsed JSON values always encode
	if c.headers[d.tx] == nil {
		c.headers[d.tx] = map[string]*exportedChange{}
	}
	if c.headers[d.tx][string(key)] == nil {
		d.header = header
		c.headers[d.tx][string(key)] = d
	}
}

// proofTransaction checks a transaction's record and sealed entry against
// its exported changes.
func (c *proofChecker) proofTransaction(p *proofTransactionLine) error {
	if c.phase > phaseTransactions {
		return c.fail("a transaction proof after the seal proofs")
	}
	c.phase = phaseTransactions
	if t := c.txs[p.ID]; t != nil {
		return c.fail("a second proof of transaction %d (line %d)", p.ID, t.line)
	}
	if c.pending[p.ID] > 0 {
		d := c.firstPending(p.ID)
		return c.fail("change %d (line %d) has no proof before the proof of its transaction %d", d.id, d.line, p.ID)
	}
	exported := c.exported[p.ID]
	if len(exported) == 0 {
		return c.fail("transaction %d: no exported change is in it", p.ID)
	}
	if p.Seal <= 0 {
		return c.fail("transaction %d: no seal", p.ID)
	}
	if err := c.checkTransactionRecord(p); err != nil {
		return err
	}
	if err := c.checkEntry(p, exported); err != nil {
		return err
	}
	c.txs[p.ID] = &provenTx{id: p.ID, seal: p.Seal, line: c.line, digest: p.Digest, entryHash: entryHash(p.entry())}
	c.bySeal[p.Seal] = append(c.bySeal[p.Seal], p.ID)
	if c.minSeal == 0 || p.Seal < c.minSeal {
		c.minSeal = p.Seal
	}
	delete(c.exported, p.ID)
	delete(c.headers, p.ID)
	return nil
}

// firstPending returns the first change line of transaction tx without a
// proof.
func (c *proofChecker) firstPending(tx int64) *exportedChange {
	var first *exportedChange
	for _, d := range c.changes {
		if d.tx == tx && !d.proven && (first == nil || d.line < first.line) {
			first = d
		}
	}
	return first
}

// checkTransactionRecord checks the transaction's record: its id and
// start time, its digest, and the transaction fields its changes show.
func (c *proofChecker) checkTransactionRecord(p *proofTransactionLine) error {
	fields := contract.SealTransactionFields()
	rec, err := parseRecord(p.Record, 'T', len(fields))
	if err != nil {
		return c.fail("transaction %d: its record is malformed: %v", p.ID, err)
	}
	if id, ok := recordInt(rec[recordField(fields, "t.id::text")]); !ok || id != p.ID {
		return c.fail("transaction %d: its record is another transaction's", p.ID)
	}
	if at, ok := recordTime(rec[txStartedAt]); !ok || !at.Equal(time.Time(p.StartedAt)) {
		return c.fail("transaction %d: its record's start time is not its entry's", p.ID)
	}
	h := sha256.New()
	h.Write(p.Record)
	for _, ch := range p.Changes {
		h.Write(ch.Digest)
	}
	if !bytes.Equal(h.Sum(nil), p.Digest) {
		return c.fail("transaction %d: its record and change digests do not give its sealed digest: its header or action is not the one sealed", p.ID)
	}
	for _, d := range c.headers[p.ID] {
		for _, f := range c.fields {
			if f.tx && !fieldMatches(f.cmp, d.header[f.key], rec[f.index]) {
				return c.fail("change %d (line %d): its %s is not the one in the record of its transaction %d", d.id, d.line, f.key, p.ID)
			}
		}
	}
	return nil
}

// checkEntry checks that each exported change of the transaction is in
// its sealed entry with its record's digest and capture time.
func (c *proofChecker) checkEntry(p *proofTransactionLine, exported []*exportedChange) error {
	for i := 1; i < len(p.Changes); i++ {
		if p.Changes[i].ID <= p.Changes[i-1].ID {
			return c.fail("transaction %d: its entry's changes are not in id order", p.ID)
		}
	}
	for _, d := range exported {
		i, ok := slices.BinarySearchFunc(p.Changes, d.id, func(s sealedChange, id int64) int { return cmpInt64(s.ID, id) })
		switch {
		case !ok:
			return c.fail("change %d (line %d) is not in the sealed entry of transaction %d", d.id, d.line, p.ID)
		case !bytes.Equal(p.Changes[i].Digest, d.digest):
			return c.fail("change %d (line %d): its record is not the one sealed in transaction %d", d.id, d.line, p.ID)
		case !p.Changes[i].CapturedAt.Equal(d.capturedAt):
			return c.fail("change %d (line %d): its capture time is not the one sealed in transaction %d", d.id, d.line, p.ID)
		}
	}
	return nil
}

func cmpInt64(a, b int64) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// entry returns the seal entry of a transaction proof.
func (p *proofTransactionLine) entry() *entry {
	e := &entry{txID: p.ID, startedAt: time.Time(p.StartedAt), digest: p.Digest}
	for _, ch := range p.Changes {
		e.changeIDs = append(e.changeIDs, ch.ID)
		e.times = append(e.times, ch.CapturedAt)
		e.changeDgs = append(e.changeDgs, ch.Digest...)
	}
	return e
}

// proofSeal checks a seal: its place in the chain and its head.
func (c *proofChecker) proofSeal(p *proofSealLine) error {
	if err := c.link(p); err != nil {
		return err
	}
	c.phase = phaseSeals
	if p.PrevHead == nil || p.Head == nil || p.Snapshot == nil {
		return c.fail("seal %d: prev_head, head and snapshot are required", p.ID)
	}
	var head []byte
	var err error
	switch p.Version {
	case 1:
		head, err = c.headV1(p)
	case 2:
		head, err = c.headV2(p)
	default:
		return c.fail("seal %d: unknown version %d", p.ID, p.Version)
	}
	if err != nil {
		return err
	}
	if !bytes.Equal(head, p.Head) {
		return c.fail("seal %d: its fields do not give its head", p.ID)
	}
	if c.first == 0 {
		c.first = p.ID
	}
	if bytes.Equal(p.Head, c.want) && c.headAt == 0 {
		c.headAt = p.ID
	}
	c.last = p
	return nil
}

// link checks that seal p follows the last seal read: the seals run from
// the seal of the first exported transaction, with consecutive ids, each
// one's previous head the head of the one before.
func (c *proofChecker) link(p *proofSealLine) error {
	switch {
	case c.last == nil && len(c.txs) == 0:
		return c.fail("seal %d: no exported change is sealed in it or before it", p.ID)
	case c.last == nil && p.ID < c.minSeal:
		return c.fail("seal %d: no exported change is sealed in it (the first seal of an exported change is seal %d)", p.ID, c.minSeal)
	case c.last == nil && p.ID > c.minSeal:
		return c.fail("seal %d: the proof of seal %d, which seals transaction %d, is missing before it", p.ID, c.minSeal, c.bySeal[c.minSeal][0])
	case c.last == nil:
		return nil
	case p.ID != c.last.ID+1:
		return c.fail("seal %d follows seal %d: the seals of a proof have consecutive ids", p.ID, c.last.ID)
	case !bytes.Equal(p.PrevHead, c.last.Head):
		return c.fail("seal %d: its previous head is not the head of seal %d: broken link", p.ID, c.last.ID)
	}
	return nil
}

// headV1 recomputes a version 1 seal's head from its transaction digests,
// checking the exported transactions of the seal against them.
func (c *proofChecker) headV1(p *proofSealLine) ([]byte, error) {
	if p.PurgesDigest != nil || p.EntriesDigest != nil || p.Chunks != nil || p.Transactions == nil {
		return nil, c.fail("seal %d: a version 1 seal carries its transactions and no digest or chunk", p.ID)
	}
	h := newHeadV1(p.PrevHead, p.ID, *p.Snapshot)
	found := map[int64]bool{}
	for i, t := range *p.Transactions {
		if i > 0 && t.ID <= (*p.Transactions)[i-1].ID {
			return nil, c.fail("seal %d: its transactions are not in id order", p.ID)
		}
		h.add(t.ID, t.Hash)
		if tx := c.txs[t.ID]; tx != nil && tx.seal == p.ID {
			if !bytes.Equal(tx.digest, t.Hash) {
				return nil, c.fail("seal %d: transaction %d (line %d) is not the one sealed: its digest differs", p.ID, t.ID, tx.line)
			}
			found[t.ID] = true
		}
	}
	if err := c.allFound(p.ID, found); err != nil {
		return nil, err
	}
	return h.head(), nil
}

// headV2 recomputes a version 2 seal's head; when the seal holds exported
// transactions, its entries digest from its chunks, checking the
// exported transactions' entry hashes against them.
func (c *proofChecker) headV2(p *proofSealLine) ([]byte, error) {
	if p.Transactions != nil || p.PurgesDigest == nil || p.EntriesDigest == nil {
		return nil, c.fail("seal %d: a version 2 seal carries purges_digest and entries_digest, and no transactions", p.ID)
	}
	switch exported := len(c.bySeal[p.ID]); {
	case exported == 0 && p.Chunks != nil:
		return nil, c.fail("seal %d lists its entries, but no exported change is in it", p.ID)
	case exported > 0 && len(p.Chunks) == 0:
		return nil, c.fail("seal %d: it seals transaction %d but lists no entries", p.ID, c.bySeal[p.ID][0])
	case exported > 0:
		entries, err := c.entriesDigest(p)
		if err != nil {
			return nil, err
		}
		if !bytes.Equal(entries, p.EntriesDigest) {
			return nil, c.fail("seal %d: its entries do not give its entries digest", p.ID)
		}
	}
	return headV2(p.PrevHead, p.ID, *p.Snapshot, p.PurgesDigest, p.EntriesDigest), nil
}

// entriesDigest recomputes a version 2 seal's entries digest from its
// chunks.
func (c *proofChecker) entriesDigest(p *proofSealLine) ([]byte, error) {
	sum := sha256.New()
	var lastID int64
	found := map[int64]bool{}
	for i, ch := range p.Chunks {
		if ch.Hash != nil {
			if ch.Entries != nil {
				return nil, c.fail("seal %d: chunk %d has both a hash and entries", p.ID, i+1)
			}
			sum.Write(ch.Hash)
			continue
		}
		if n := len(ch.Entries); n == 0 || n > contract.SealChunk || (i < len(p.Chunks)-1 && n != contract.SealChunk) {
			return nil, c.fail("seal %d: chunk %d has %d entries (every chunk but the last has %d)", p.ID, i+1, n, contract.SealChunk)
		}
		h := sha256.New()
		for _, e := range ch.Entries {
			if e.ID <= lastID {
				return nil, c.fail("seal %d: its entries are not in transaction id order", p.ID)
			}
			lastID = e.ID
			h.Write(e.Hash)
			if tx := c.txs[e.ID]; tx != nil && tx.seal == p.ID {
				if !bytes.Equal(tx.entryHash, e.Hash) {
					return nil, c.fail("seal %d: the entry of transaction %d (line %d) is not the one sealed", p.ID, e.ID, tx.line)
				}
				found[e.ID] = true
			}
		}
		sum.Write(h.Sum(nil))
	}
	if err := c.allFound(p.ID, found); err != nil {
		return nil, err
	}
	return sum.Sum(nil), nil
}

// allFound fails naming the first exported transaction of seal that
// was not found in it.
func (c *proofChecker) allFound(seal int64, found map[int64]bool) error {
	for _, id := range c.bySeal[seal] {
		if !found[id] {
			return c.fail("transaction %d (line %d) is not in seal %d", id, c.txs[id].line, seal)
		}
	}
	return nil
}

// finish checks what only the whole file tells: every change line proven
// with its transaction, every transaction's seal read, the last seal's
// head the recorded one.
func (c *proofChecker) finish() (ProofReport, error) {
	rep := ProofReport{Changes: int64(len(c.changes)), Head: hex.EncodeToString(c.want)}
	var first *exportedChange
	for _, d := range c.changes {
		if (!d.proven || c.txs[d.tx] == nil) && (first == nil || d.line < first.line) {
			first = d
		}
	}
	switch {
	case first != nil && !first.proven:
		return rep, fmt.Errorf("%w: line %d: change %d has no proof", ErrProofFailed, first.line, first.id)
	case first != nil:
		return rep, fmt.Errorf("%w: line %d: change %d: no proof of its transaction %d", ErrProofFailed, first.line, first.id, first.tx)
	case len(c.changes) == 0:
		return rep, nil
	case c.last == nil:
		return rep, fmt.Errorf("%w: no seal proof: the changes are not linked to the head %s", ErrProofFailed, rep.Head)
	}
	for _, t := range c.txs {
		if t.seal > c.last.ID {
			return rep, fmt.Errorf("%w: line %d: transaction %d: no proof of its seal %d", ErrProofFailed, t.line, t.id, t.seal)
		}
	}
	switch {
	case c.headAt != 0 && c.headAt != c.last.ID:
		return rep, fmt.Errorf("%w: the recorded head is the head of seal %d, but the proofs go on to seal %d", ErrProofFailed, c.headAt, c.last.ID)
	case c.headAt == 0:
		return rep, fmt.Errorf("%w: the head of the last seal (%d) is not the recorded head %s: the proofs do not lead to it", ErrProofFailed, c.last.ID, rep.Head)
	}
	rep.FirstSeal, rep.LastSeal = c.first, c.last.ID
	return rep, nil
}
