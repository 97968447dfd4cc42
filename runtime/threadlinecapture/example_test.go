package threadlinecapture_test

import (
	"context"
	"log/slog"
	"os"
	"os/signal"
	"syscall"

	"github.com/threadline-go/threadline/runtime/threadlinecapture"
)

// The consumer embedded in a service of your own: it runs until SIGINT or
// SIGTERM, then writes and confirms what it holds. BatchWritten receives
// each batch (contrib/otel's Hooks.Capture turns them into metrics and
// spans).
func Example() {
	logger := slog.New(slog.NewJSONHandler(os.Stderr, nil))
	consumer := threadlinecapture.New(threadlinecapture.Config{
		SourceURL: os.Getenv("DATABASE_URL"), // a role with REPLICATION
		AuditURL:  os.Getenv("AUDIT_DATABASE_URL"),
		Slot:      "threadline",
		Logger:    logger,
		Hooks: threadlinecapture.Hooks{BatchWritten: func(ctx context.Context, e threadlinecapture.BatchEvent) {
			if e.Err != nil {
				logger.ErrorContext(ctx, "batch failed", "err", e.Err)
			}
		}},
	})
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := consumer.Run(ctx); err != nil {
		logger.Error("threadline capture stopped", "err", err)
		os.Exit(1)
	}
}
