module example.com/billhook-receiver

go 1.21

// The Go package github.com/svix/svix-webhooks/go lives in the module github.com/svix/svix-webhooks.
// Run `go mod tidy` once to resolve it (and its dependencies) and write go.sum.
require github.com/svix/svix-webhooks v1.75.0
