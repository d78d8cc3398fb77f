// A billhook webhook receiver: verifies every request with the svix library, answers 204.
//
//	go mod tidy    # first time: resolves svix and writes go.sum
//	WEBHOOK_SECRET=whsec_... PORT=9000 go run .
//
// Environment: WEBHOOK_SECRET (the endpoint's signing secret, required), PORT (default 9000;
// 0 picks a free one), HOST (default 127.0.0.1), EXIT_AFTER=N (stop after N requests).
package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"os"
	"strconv"
	"sync"

	svix "github.com/svix/svix-webhooks/go"
)

// envelope is billhook's body: {"attempt": N, "created_at": "...", "properties": {...}}.
type envelope struct {
	Attempt    int    `json:"attempt"`
	CreatedAt  string `json:"created_at"`
	Properties struct {
		EventType string          `json:"event_type"`
		Payload   json.RawMessage `json:"payload"`
	} `json:"properties"`
}

func main() {
	secret := os.Getenv("WEBHOOK_SECRET")
	if secret == "" {
		log.Fatal("set WEBHOOK_SECRET to the endpoint's signing secret (whsec_...)")
	}
	wh, err := svix.NewWebhook(secret)
	if err != nil {
		log.Fatalf("WEBHOOK_SECRET is not a whsec_ secret: %v", err)
	}
	exitAfter, _ := strconv.Atoi(os.Getenv("EXIT_AFTER"))
	host := getenv("HOST", "127.0.0.1")
	listener, err := net.Listen("tcp", net.JoinHostPort(host, getenv("PORT", "9000")))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("listening on http://%s/\n", listener.Addr())

	var mu sync.Mutex
	handled := 0
	done := make(chan struct{})
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		status := handle(wh, r)
		w.WriteHeader(status)
		mu.Lock()
		defer mu.Unlock()
		handled++
		if exitAfter > 0 && handled == exitAfter {
			close(done)
		}
	})
	server := &http.Server{Handler: handler}
	go func() {
		if err := server.Serve(listener); err != http.ErrServerClosed {
			log.Fatal(err)
		}
	}()
	<-done                                // never, without EXIT_AFTER
	server.Shutdown(context.Background()) // waits for the last response to finish
}

// handle verifies one request and returns the status to answer with.
func handle(wh *svix.Webhook, r *http.Request) int {
	// 1. The raw bytes, exactly as sent: the signature covers them.
	payload, err := io.ReadAll(r.Body)
	if err != nil {
		return http.StatusBadRequest
	}
	// 2. Verify before parsing: signature, and a timestamp at most 5 minutes off.
	if err := wh.Verify(payload, r.Header); err != nil {
		fmt.Printf("rejected: %v\n", err)
		return http.StatusBadRequest
	}
	// 3. Only now parse it. De-duplicate on svix-id (the same on every attempt and resend).
	var event envelope
	if err := json.Unmarshal(payload, &event); err != nil {
		return http.StatusBadRequest
	}
	fmt.Printf("verified %s %s attempt %d\n", event.Properties.EventType, r.Header.Get("svix-id"), event.Attempt)
	return http.StatusNoContent // any 2xx within 15 seconds; do slow work after answering
}

func getenv(name, fallback string) string {
	if value := os.Getenv(name); value != "" {
		return value
	}
	return fallback
}
