package sqltemplates

import "github.com/threadline-go/threadline/internal/contract"

// actionBound is a parameter of record_action with the bound of what it
// stores, in bytes (contract).
type actionBound struct {
	// What names the value in the error; Expr measures it (the
	// parameter, or the id of an actor).
	What, Expr string
	Max        int
}

// actionBounds lists the bounded parameters of record_action, in order.
// An actor is bounded by its id: the runtime bounds its canonical
// encoding by MaxActorRefBytes, which is longer than the id.
func actionBounds() []actionBound {
	b := func(param string, max int) actionBound { return actionBound{What: param, Expr: param, Max: max} }
	return []actionBound{
		b("p_name", contract.MaxActionNameBytes),
		{What: "the id of p_actor", Expr: "p_actor->>'id'", Max: contract.MaxActorRefBytes},
		{What: "the id of p_ctx_actor", Expr: "p_ctx_actor->>'id'", Max: contract.MaxActorRefBytes},
		b("p_verb", contract.MaxActionNameBytes),
		b("p_category", contract.MaxActionNameBytes),
		b("p_reason", contract.MaxActionTextBytes),
		b("p_comment", contract.MaxActionTextBytes),
		b("p_correlation_id", contract.MaxAttributionIDBytes),
		b("p_ctx_correlation_id", contract.MaxAttributionIDBytes),
		b("p_request_id", contract.MaxAttributionIDBytes),
		b("p_ctx_request_id", contract.MaxAttributionIDBytes),
		b("p_job_id", contract.MaxAttributionIDBytes),
	}
}
