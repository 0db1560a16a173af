package web_test

import (
	"bufio"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"intake/intake/web"
	"intake/internal/testenv"
)

// Plain HTTP is refused on any address but loopback, unless a TLS proxy is
// said to be in front; TLS is allowed anywhere.
func TestCheckListen(t *testing.T) {
	for _, c := range []struct {
		addr        string
		tls, proxy  bool
		wantRefusal bool
	}{
		{"0.0.0.0:8080", false, false, true},
		{":8080", false, false, true},
		{"[::]:8080", false, false, true},
		{"192.0.2.10:8080", false, false, true},
		{"127.0.0.1:8080", false, false, false},
		{"[::1]:8080", false, false, false},
		{"localhost:8080", false, false, false},
		{"0.0.0.0:8443", true, false, false},
		{"0.0.0.0:8080", false, true, false},
	} {
		err := web.CheckListen(c.addr, c.tls, c.proxy)
		if (err != nil) != c.wantRefusal {
			t.Errorf("CheckListen(%s, tls %v, proxy %v) = %v, want refused %v", c.addr, c.tls, c.proxy, err, c.wantRefusal)
		}
		if err != nil && (!strings.Contains(err.Error(), "web.tls_cert") || !strings.Contains(err.Error(), "web.behind_tls_proxy")) {
			t.Errorf("the refusal does not say what to set: %v", err)
		}
	}
	f := newFixture(t, options{})
	if _, err := f.srv.Start(web.ListenOptions{Addr: "0.0.0.0:0"}); err == nil || !strings.Contains(err.Error(), "plain HTTP") {
		t.Errorf("Start on 0.0.0.0 without TLS: %v, want refused", err)
	}
	if _, err := f.srv.Start(web.ListenOptions{Addr: "127.0.0.1:0", CertFile: "cert.pem"}); err == nil {
		t.Error("Start with a certificate and no key succeeded")
	}
}

// With web.tls_cert and web.tls_key the dashboard speaks only TLS, and
// says so with Strict-Transport-Security; a certificate that does not load
// stops the start.
func TestStart_TLS(t *testing.T) {
	f := newFixture(t, options{})
	ca := testenv.NewCA(t)
	dir := t.TempDir()
	cert, key := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	for name, data := range map[string][]byte{cert: ca.CertPEM, key: ca.KeyPEM} {
		if err := os.WriteFile(name, data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	r, err := f.srv.Start(web.ListenOptions{Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, r)
	short, err := f.srv.Start(web.ListenOptions{Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key, ReadHeaderTimeout: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, short)
	if !strings.HasPrefix(r.URL, "https://127.0.0.1:") {
		t.Fatalf("URL = %s", r.URL)
	}
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: ca.Roots}}}
	req, _ := http.NewRequest(http.MethodGet, r.URL, nil)
	req.SetBasicAuth(user, pass)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS == nil || res.Header.Get("Strict-Transport-Security") == "" {
		t.Errorf("over TLS: %d, TLS %v, HSTS %q", res.StatusCode, res.TLS != nil, res.Header.Get("Strict-Transport-Security"))
	}
	// The same port without TLS gets no page.
	plain := "http://" + strings.TrimPrefix(r.URL, "https://")
	if res, err := http.Get(plain); err == nil {
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusOK || strings.Contains(string(b), "Data calls") {
			t.Errorf("plain HTTP to the TLS port: %d %q", res.StatusCode, b)
		}
	}
	// A connection that never starts its handshake is closed.
	c, err := net.Dial("tcp", strings.TrimSuffix(strings.TrimPrefix(short.URL, "https://"), "/"))
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		t.Errorf("a connection with no handshake: read %v, want EOF (closed by the server)", err)
	}
	if err := os.WriteFile(key, []byte("not a key"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := f.srv.Start(web.ListenOptions{Addr: "127.0.0.1:0", CertFile: cert, KeyFile: key}); err == nil ||
		!strings.Contains(err.Error(), "web.tls_key") {
		t.Errorf("Start with a bad key: %v, want refused naming web.tls_key", err)
	}
}

// Connections that send nothing, half a header, or stay idle after a
// request are closed by the server: a client cannot hold them open. The
// timeouts are short here; the wait for the close is long, and shorter
// than the defaults, so the test fails if the options are not applied.
func TestStart_timeoutsCloseHeldConnections(t *testing.T) {
	f := newFixture(t, options{})
	r, err := f.srv.Start(web.ListenOptions{Addr: "127.0.0.1:0", ReadHeaderTimeout: 100 * time.Millisecond,
		IdleTimeout: 100 * time.Millisecond, ReadTimeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, r)
	addr := strings.TrimSuffix(strings.TrimPrefix(r.URL, "http://"), "/")
	const each = 50
	var conns []net.Conn
	dial := func() net.Conn {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		conns = append(conns, c)
		return c
	}
	for range each {
		dial()                                                                             // sends nothing
		if _, err := io.WriteString(dial(), "GET / HTTP/1.1\r\nHost: x\r\n"); err != nil { // half a header
			t.Fatal(err)
		}
		c := dial() // one request, then idle
		if _, err := io.WriteString(c, "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
		res, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			t.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.Close {
			t.Fatal("the server closed a kept-alive connection at once")
		}
		// A header promising a body that never comes.
		if _, err := io.WriteString(dial(), "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n"); err != nil {
			t.Fatal(err)
		}
	}
	defer func() {
		for _, c := range conns {
			c.Close()
		}
	}()
	for i, c := range conns {
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		buf := make([]byte, 4096)
		var err error
		for err == nil {
			_, err = c.Read(buf) // a 408 may come before the close
		}
		var ne net.Error
		if errors.As(err, &ne) && ne.Timeout() {
			t.Fatalf("connection %d (kind %d) still open after 5 s", i, i%4)
		}
	}
}

// A request header over MaxHeaderBytes is refused (431), not read on.
func TestStart_headerCap(t *testing.T) {
	f := newFixture(t, options{})
	r, err := f.srv.Start(web.ListenOptions{Addr: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer shutdown(t, r)
	for _, size := range []int{web.MaxHeaderBytes / 2, 2 * web.MaxHeaderBytes} {
		req, _ := http.NewRequest(http.MethodGet, r.URL+"healthz", nil)
		req.Header.Set("X-Padding", strings.Repeat("a", size))
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		want := http.StatusOK
		if size > web.MaxHeaderBytes {
			want = http.StatusRequestHeaderFieldsTooLarge
		}
		if res.StatusCode != want {
			t.Errorf("a %d-byte header: %d, want %d", size, res.StatusCode, want)
		}
	}
}

// shutdown stops r, waiting at most a few seconds for its connections.
func shutdown(t *testing.T, r *web.Running) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.Shutdown(ctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		t.Error(err)
	}
}
