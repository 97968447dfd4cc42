package threadlineui

import (
	"fmt"
	"strings"

	threadline "github.com/threadline-go/threadline/runtime"
)

// parseActor reads an actor in the text form of the viewer's actor
// parameter: "kind:id" (user:42; the id is everything after the first
// colon) or "anonymous". Errors are *threadline.FilterError values for key
// "actor", so the viewer answers them with 400.
func parseActor(v string) (threadline.ActorRef, error) {
	kind, id, hasID := strings.Cut(v, ":")
	if !hasID && kind != string(threadline.KindAnonymous) {
		example := "user:" + v
		switch {
		case v == "":
			example = "user:42"
		case threadline.ActorKind(v).Valid():
			example = v + ":42"
		}
		return threadline.ActorRef{}, &threadline.FilterError{Key: "actor",
			Msg: fmt.Sprintf("%q: use kind:id, e.g. %s (kinds: %s), or anonymous", v, example, actorKinds())}
	}
	a, err := threadline.NewActorRef(threadline.ActorKind(kind), id)
	if err != nil {
		return threadline.ActorRef{}, &threadline.FilterError{Key: "actor",
			Msg: fmt.Sprintf("%q: %s", v, strings.TrimPrefix(err.Error(), threadline.ErrInvalidActor.Error()+": "))}
	}
	return a, nil
}

// actorKinds lists the kinds that take an id, for messages.
func actorKinds() string {
	var kinds []string
	for _, k := range threadline.ActorKinds() {
		if k != threadline.KindAnonymous {
			kinds = append(kinds, string(k))
		}
	}
	return strings.Join(kinds, ", ")
}
