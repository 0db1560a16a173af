package imapbox

import (
	"bufio"
	"context"
	"crypto/tls"
	"fmt"
	"net"
	"strings"
	"time"
)

// Probe reports whether the server answers: it connects, and reads the
// greeting ("* OK" or "* PREAUTH"; over TLS for tls mode), within timeout,
// then hangs up. It signs nothing in, so it may be called often while a
// server is away.
func Probe(ctx context.Context, o Options, timeout time.Duration) error {
	if timeout <= 0 {
		timeout = 5 * time.Second
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	var d net.Dialer
	c, err := d.DialContext(ctx, "tcp", o.Addr)
	if err != nil {
		return err
	}
	defer c.Close()
	deadline, _ := ctx.Deadline()
	c.SetDeadline(deadline)
	if strings.EqualFold(o.TLS, "tls") || o.TLS == "" {
		cfg := o.TLSConfig
		if cfg == nil {
			host, _, _ := net.SplitHostPort(o.Addr)
			cfg = &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
		}
		tc := tls.Client(c, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			return err
		}
		c = tc
	}
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return err
	}
	if !strings.HasPrefix(line, "* OK") && !strings.HasPrefix(line, "* PREAUTH") {
		return fmt.Errorf("imap: probe: greeting %q", strings.TrimSpace(line))
	}
	return nil
}
