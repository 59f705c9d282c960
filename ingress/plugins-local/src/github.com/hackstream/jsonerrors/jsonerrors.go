// Package jsonerrors is a Traefik middleware plugin (a local plugin, interpreted by Traefik's
// Yaegi from this directory) on the API's router. When the API process does not answer, Traefik
// itself answers 502 (refused), 504 (timed out) or 503 (no server) in plain text, which the API's
// clients cannot read; this middleware turns such non-JSON answers into the API's error model,
// {"error":{"code","message"}}, with Retry-After. The API's own JSON answers (its 503
// dependency_unavailable among them) and everything else pass through untouched.
package jsonerrors

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"
)

// Config is the dynamic configuration of the middleware.
type Config struct {
	Code       string `json:"code,omitempty"`
	Message    string `json:"message,omitempty"`
	RetryAfter int    `json:"retryAfter,omitempty"`
}

// CreateConfig returns the default configuration.
func CreateConfig() *Config {
	return &Config{
		Code:       "api_unavailable",
		Message:    "the HackStream API is not answering; try again in a few seconds",
		RetryAfter: 5,
	}
}

// JSONErr is the middleware handler.
type JSONErr struct {
	next       http.Handler
	name       string
	body       []byte
	retryAfter string
}

// New builds the middleware.
func New(_ context.Context, next http.Handler, config *Config, name string) (http.Handler, error) {
	if config.Code == "" {
		return nil, fmt.Errorf("%s: code must not be empty", name)
	}
	if config.RetryAfter < 0 {
		return nil, fmt.Errorf("%s: retryAfter must be >= 0", name)
	}

	body, err := json.Marshal(map[string]map[string]string{
		"error": {"code": config.Code, "message": config.Message},
	})
	if err != nil {
		return nil, err
	}

	retryAfter := ""
	if config.RetryAfter > 0 {
		retryAfter = strconv.Itoa(config.RetryAfter)
	}

	return &JSONErr{next: next, name: name, body: body, retryAfter: retryAfter}, nil
}

func (j *JSONErr) ServeHTTP(rw http.ResponseWriter, req *http.Request) {
	j.next.ServeHTTP(&responseWriter{rw: rw, mw: j}, req)
}

// responseWriter decides at WriteHeader time whether to replace the response.
//
// Yaegi pitfall: when this interpreted type is handed to compiled code (the
// next handler, i.e. Traefik's reverse proxy), Yaegi wraps it in a generated
// struct that only exposes http.ResponseWriter, plus http.Hijacker when the
// type defines Hijack (and Header/Write/WriteHeader) as its own methods.
// Flush and Unwrap are NOT visible to compiled code, so the proxy cannot flush
// through us. We therefore flush the underlying writer ourselves after each
// write of a streamed (unknown length / SSE) response.
type responseWriter struct {
	rw          http.ResponseWriter
	mw          *JSONErr
	wroteHeader bool
	replaced    bool
	stream      bool
}

func (w *responseWriter) Header() http.Header {
	return w.rw.Header()
}

func (w *responseWriter) WriteHeader(code int) {
	if w.wroteHeader {
		return
	}
	// 1xx informational responses (e.g. 103 Early Hints) may precede the real
	// one; pass them through. 101 Switching Protocols is final.
	if code >= 100 && code < 200 && code != http.StatusSwitchingProtocols {
		w.rw.WriteHeader(code)
		return
	}
	w.wroteHeader = true

	h := w.rw.Header()
	if (code == http.StatusBadGateway || code == http.StatusServiceUnavailable || code == http.StatusGatewayTimeout) &&
		!isJSON(h.Get("Content-Type")) {
		w.replaced = true
		for _, k := range []string{"Content-Length", "Content-Encoding", "Content-Range", "Etag", "Last-Modified", "X-Content-Type-Options"} {
			h.Del(k)
		}
		h.Set("Content-Type", "application/json; charset=utf-8")
		h.Set("Content-Length", strconv.Itoa(len(w.mw.body)))
		if h.Get("Retry-After") == "" && w.mw.retryAfter != "" {
			h.Set("Retry-After", w.mw.retryAfter)
		}
		w.rw.WriteHeader(code)
		_, _ = w.rw.Write(w.mw.body)
		return
	}

	w.stream = h.Get("Content-Length") == "" ||
		strings.HasPrefix(strings.ToLower(h.Get("Content-Type")), "text/event-stream")
	w.rw.WriteHeader(code)
}

func (w *responseWriter) Write(p []byte) (int, error) {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if w.replaced {
		// Swallow the original body (e.g. "Bad Gateway").
		return len(p), nil
	}
	n, err := w.rw.Write(p)
	if err == nil && w.stream {
		w.Flush()
	}
	return n, err
}

// Flush implements http.Flusher (only reachable from interpreted code, see above).
func (w *responseWriter) Flush() {
	if !w.wroteHeader {
		w.WriteHeader(http.StatusOK)
	}
	if f, ok := w.rw.(http.Flusher); ok {
		f.Flush()
	}
}

// Hijack implements http.Hijacker, needed for WebSocket (101) upgrades.
func (w *responseWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	h, ok := w.rw.(http.Hijacker)
	if !ok {
		return nil, nil, fmt.Errorf("%s: underlying ResponseWriter does not implement http.Hijacker", w.mw.name)
	}
	return h.Hijack()
}

func isJSON(contentType string) bool {
	mt, _, err := mime.ParseMediaType(contentType)
	if err != nil {
		return false
	}
	return mt == "application/json" || strings.HasSuffix(mt, "+json")
}
