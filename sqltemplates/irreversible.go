package sqltemplates

// Irreversible returns the statement a down migration consists of when
// its up cannot be undone: it raises an error with the given message
// (ERRCODE feature_not_supported). Every migration tool runs a down in a
// transaction (plain files hold their own), so the failure leaves the
// database, and the tool's record of what is applied, as they were.
func Irreversible(message string) Statement {
	return render("irreversible", struct{ MessageLit string }{QuoteLiteral(message)})
}
