package web

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"
)

// ListenOptions say where and how the dashboard is served. Zero timeouts
// take the defaults.
type ListenOptions struct {
	Addr string // host:port
	// CertFile and KeyFile are a PEM certificate (chain) and its key: the
	// dashboard is served over TLS. Without them it is plain HTTP, which
	// Start allows only on a loopback address or behind a TLS proxy
	// (Options.BehindTLSProxy).
	CertFile, KeyFile string
	// ReadHeaderTimeout bounds the wait for a request's header (and the
	// TLS handshake) on a new connection; default 10 s.
	ReadHeaderTimeout time.Duration
	// IdleTimeout closes a kept-alive connection that sends no next
	// request; default 60 s.
	IdleTimeout time.Duration
	// ReadTimeout bounds the reading of a whole request, body included;
	// default 1 minute (the dashboard reads no large body: a staff
	// action's form at most).
	ReadTimeout time.Duration
}

// MaxHeaderBytes caps a request's header; a larger one is answered 431.
const MaxHeaderBytes = 64 << 10

// Running is the dashboard being served.
type Running struct {
	URL  string // e.g. https://127.0.0.1:8443/
	srv  *http.Server
	done chan error
}

// errPlainHTTP explains why plain HTTP is refused.
const errPlainHTTP = "web.listen %s: plain HTTP on an address other than loopback would carry passwords and agency data in clear; " +
	"set web.tls_cert and web.tls_key, or web.behind_tls_proxy: true when a proxy in front of it terminates TLS"

// CheckListen tells, before anything starts, whether addr may be served as
// configured: with TLS, behind a TLS proxy, or on a loopback address. A
// host name other than localhost is resolved by Start, which checks the
// address it listens on.
func CheckListen(addr string, withTLS, behindTLSProxy bool) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("web.listen %q: %w", addr, err)
	}
	if withTLS || behindTLSProxy || host == "localhost" {
		return nil
	}
	if ip := net.ParseIP(host); host == "" || (ip != nil && !ip.IsLoopback()) {
		return fmt.Errorf(errPlainHTTP, addr)
	}
	return nil
}

// Start listens on o.Addr and serves the dashboard until Shutdown. It
// refuses plain HTTP on an address other than loopback unless the
// options say a TLS proxy is in front, and a certificate or key that does
// not load.
func (s *Server) Start(o ListenOptions) (*Running, error) {
	if (o.CertFile == "") != (o.KeyFile == "") {
		return nil, errors.New("web: web.tls_cert and web.tls_key go together")
	}
	withTLS := o.CertFile != ""
	if err := CheckListen(o.Addr, withTLS, s.o.BehindTLSProxy); err != nil {
		return nil, err
	}
	var tlsConfig *tls.Config
	if withTLS {
		cert, err := tls.LoadX509KeyPair(o.CertFile, o.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("web: web.tls_cert and web.tls_key: %w", err)
		}
		tlsConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
	}
	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("web: %w", err)
	}
	if ta, ok := ln.Addr().(*net.TCPAddr); !withTLS && !s.o.BehindTLSProxy && (!ok || !ta.IP.IsLoopback()) {
		ln.Close()
		return nil, fmt.Errorf(errPlainHTTP+" (it resolved to %s)", o.Addr, ln.Addr())
	}
	if o.ReadHeaderTimeout <= 0 {
		o.ReadHeaderTimeout = 10 * time.Second
	}
	if o.IdleTimeout <= 0 {
		o.IdleTimeout = 60 * time.Second
	}
	if o.ReadTimeout <= 0 {
		o.ReadTimeout = time.Minute
	}
	srv := &http.Server{
		Handler:           s,
		TLSConfig:         tlsConfig,
		ReadHeaderTimeout: o.ReadHeaderTimeout, // also bounds the TLS handshake
		ReadTimeout:       o.ReadTimeout,
		IdleTimeout:       o.IdleTimeout,
		MaxHeaderBytes:    MaxHeaderBytes,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelInfo), // TLS handshake errors and the like
	}
	scheme := "http"
	if withTLS {
		scheme = "https"
	}
	r := &Running{URL: scheme + "://" + ln.Addr().String() + "/", srv: srv, done: make(chan error, 1)}
	go func() {
		var err error
		if withTLS {
			err = srv.ServeTLS(ln, "", "") // the certificate is in TLSConfig
		} else {
			err = srv.Serve(ln)
		}
		if errors.Is(err, http.ErrServerClosed) {
			err = nil
		}
		r.done <- err
	}()
	return r, nil
}

// Shutdown stops accepting, waits for the requests in progress until ctx
// ends, and returns why serving stopped, if not by Shutdown.
func (r *Running) Shutdown(ctx context.Context) error {
	err := r.srv.Shutdown(ctx)
	if serveErr := <-r.done; serveErr != nil {
		return serveErr
	}
	return err
}
