package integration_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/emersion/go-imap/v2"
	"github.com/emersion/go-imap/v2/imapclient"

	"intake/internal/testenv"
)

const (
	installHint = "`make test` with CI=true installs it from Debian's packages"
	mailPass    = "pw"
)

// dovecot is a Dovecot instance started from its own configuration file,
// listening on loopback only: IMAP, IMAPS (a certificate signed by a CA the
// test made) and LMTP (for Postfix to deliver into).
type dovecot struct {
	dir       string
	conf      string
	imapAddr  string // plain IMAP
	imapsAddr string // IMAP over TLS
	lmtpPort  int
	caFile    string         // PEM of the CA that signed the server's certificate
	roots     *x509.CertPool // the same CA, for TLS clients
}

// startDovecot starts Dovecot with a mailbox (password "pw") for each
// address; t.Cleanup stops it with `doveadm stop`.
func startDovecot(t *testing.T, users []string) *dovecot {
	t.Helper()
	return startDovecotWith(t, dovecotOptions{Users: users})
}

// dovecotOptions vary the test's Dovecot.
type dovecotOptions struct {
	Users []string
	// IntrospectURL, when set, adds the oauth2 passdb for XOAUTH2 and
	// OAUTHBEARER: Dovecot asks this RFC 7662 endpoint (POST token=...)
	// whether a bearer token is active, and for whom (its "username").
	IntrospectURL string
	// Capability, when set, replaces the capabilities Dovecot advertises
	// after login (imap_capability): the quirk tests leave out MOVE,
	// UIDPLUS or IDLE.
	Capability string
	// AuthPort, when set, opens Dovecot's authentication service on this
	// loopback port, for Postfix's SMTP AUTH (smtpd_sasl_type = dovecot).
	AuthPort int
}

// startDovecotWith starts Dovecot as o says.
func startDovecotWith(t *testing.T, o dovecotOptions) *dovecot {
	t.Helper()
	users := o.Users
	bin := testenv.LookPath(t, "dovecot", "package dovecot-imapd; "+installHint)
	doveadm := testenv.LookPath(t, "doveadm", "package dovecot-core; "+installHint)
	if _, err := os.Stat("/usr/lib/dovecot/lmtp"); err != nil {
		testenv.Missing(t, "Dovecot's LMTP server (package dovecot-lmtpd; "+installHint+")")
	}
	dir := t.TempDir()
	mailDir := filepath.Join(dir, "mail")
	for _, d := range []string{"run", "state", "mail"} {
		if err := os.Mkdir(filepath.Join(dir, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	// Mail is accessed with the uid of the static userdb. Dovecot never
	// accesses mail as root, so a root test run uses "nobody" (and must let
	// it through the temp directories); otherwise the current user runs
	// everything.
	uid, gid := os.Getuid(), os.Getgid()
	var asUser, asGroup string
	if uid == 0 {
		nobody, err := user.Lookup("nobody")
		if err != nil {
			t.Fatalf("no user to own the test mailboxes: %v", err)
		}
		uid, _ = strconv.Atoi(nobody.Uid)
		gid, _ = strconv.Atoi(nobody.Gid)
		for _, d := range []string{filepath.Dir(dir), dir} {
			if err := os.Chmod(d, 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.Chown(mailDir, uid, gid); err != nil {
			t.Fatal(err)
		}
	} else {
		me, err := user.Current()
		if err != nil {
			t.Fatal(err)
		}
		asUser = me.Username
		g, err := user.LookupGroupId(strconv.Itoa(gid))
		if err != nil {
			t.Fatal(err)
		}
		asGroup = g.Name
	}

	d := &dovecot{dir: dir, conf: filepath.Join(dir, "dovecot.conf"), caFile: filepath.Join(dir, "ca.pem")}
	d.roots = writeCertificates(t, dir)
	imapPort, imapsPort, lmtpPort := freePort(t), freePort(t), freePort(t)
	d.imapAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(imapPort))
	d.imapsAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(imapsPort))
	d.lmtpPort = lmtpPort

	var passwd strings.Builder
	for _, u := range users {
		fmt.Fprintf(&passwd, "%s:{PLAIN}%s\n", u, mailPass)
	}
	// Read by Dovecot's auth process, which runs as its own user.
	if err := os.Chmod(writeFile(t, dir, "users", passwd.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	unprivileged := ""
	if asUser != "" {
		// Run by a user: every service as that user, no chroot.
		unprivileged = fmt.Sprintf(`default_internal_user = %[1]s
default_internal_group = %[2]s
default_login_user = %[1]s
service imap-login {
  chroot =
}
service anvil {
  chroot =
}
service auth {
  user = %[1]s
}
`, asUser, asGroup)
	}
	extra := ""
	if o.IntrospectURL != "" {
		writeFile(t, dir, "oauth2.conf.ext", "introspection_mode = post\nintrospection_url = "+o.IntrospectURL+
			"\nforce_introspection = yes\nusername_attribute = username\nactive_attribute = active\nactive_value = true\n")
		if err := os.Chmod(filepath.Join(dir, "oauth2.conf.ext"), 0o644); err != nil {
			t.Fatal(err)
		}
		extra += fmt.Sprintf(dovecotOAuth, dir)
	}
	if o.AuthPort != 0 {
		extra += fmt.Sprintf("service auth {\n  inet_listener sasl {\n    address = 127.0.0.1\n    port = %d\n  }\n}\n", o.AuthPort)
	}
	if o.Capability != "" {
		extra += "protocol imap {\n  imap_capability = " + o.Capability + "\n}\n"
	}
	writeFile(t, dir, "dovecot.conf", fmt.Sprintf(dovecotConf, dir, mailDir, uid, gid, imapPort, imapsPort, lmtpPort)+unprivileged+extra)

	// Dovecot forks into the background and keeps its stdout and stderr:
	// they go to a file, as a pipe would never reach EOF.
	startLog := filepath.Join(dir, "dovecot.start.log")
	out, err := os.Create(startLog)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "-c", d.conf)
	cmd.Stdout, cmd.Stderr = out, out
	err = cmd.Run()
	out.Close()
	if err != nil {
		t.Fatalf("dovecot -c %s: %v\n%s\n%s", d.conf, err, tail(startLog, 3000), tail(filepath.Join(dir, "dovecot.log"), 3000))
	}
	t.Cleanup(func() {
		if out, err := exec.Command(doveadm, "-c", d.conf, "stop").CombinedOutput(); err != nil {
			t.Errorf("doveadm stop: %v\n%s", err, out)
		}
		if t.Failed() {
			t.Logf("dovecot log:\n%s", tail(filepath.Join(dir, "dovecot.log"), 6000))
		}
	})
	for _, addr := range []string{d.imapAddr, d.imapsAddr, net.JoinHostPort("127.0.0.1", strconv.Itoa(lmtpPort))} {
		waitFor(t, 20*time.Second, "dovecot listening on "+addr, func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	return d
}

// dovecotConf: %[1]s the state directory, %[2]s the mail directory, %[3]d
// and %[4]d the mail uid and gid, %[5]d IMAP, %[6]d IMAPS, %[7]d LMTP ports.
const dovecotConf = `# Dovecot for intake's integration tests: loopback only, state in a temp dir.
base_dir = %[1]s/run
state_dir = %[1]s/state
log_path = %[1]s/dovecot.log
protocols = imap lmtp
listen = 127.0.0.1
ssl = yes
ssl_cert = <%[1]s/cert.pem
ssl_key = <%[1]s/key.pem
# Plain IMAP on loopback (tls: none) is what the first variant tests.
disable_plaintext_auth = no
auth_mechanisms = plain login
mail_location = maildir:%[2]s/%%d/%%n
first_valid_uid = 1
passdb {
  driver = passwd-file
  args = scheme=PLAIN %[1]s/users
  mechanisms = plain login
}
userdb {
  driver = static
  args = uid=%[3]d gid=%[4]d home=%[2]s/%%d/%%n allow_all_users=yes
}
service imap-login {
  inet_listener imap {
    address = 127.0.0.1
    port = %[5]d
  }
  inet_listener imaps {
    address = 127.0.0.1
    port = %[6]d
    ssl = yes
  }
}
service lmtp {
  inet_listener lmtp {
    address = 127.0.0.1
    port = %[7]d
  }
}
`

// dovecotOAuth adds bearer tokens checked at an introspection endpoint
// (%[1]s the state directory, holding oauth2.conf.ext).
const dovecotOAuth = `auth_mechanisms = plain login xoauth2 oauthbearer
passdb {
  driver = oauth2
  mechanisms = xoauth2 oauthbearer
  args = %[1]s/oauth2.conf.ext
}
`

// writeCertificates makes a CA and a server certificate for 127.0.0.1
// signed by it, writes ca.pem, cert.pem and key.pem into dir, and returns
// the CA as a pool.
func writeCertificates(t *testing.T, dir string) *x509.CertPool {
	ca := testenv.NewCA(t)
	ca.WriteFiles(t, dir)
	return ca.Roots
}

// freePort returns a loopback TCP port that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// login opens an IMAP session (over TLS) on one Dovecot user, for the
// test's checks.
func (d *dovecot) login(t *testing.T, addr string) *imapclient.Client {
	t.Helper()
	c, err := imapclient.DialTLS(d.imapsAddr, &imapclient.Options{TLSConfig: &tls.Config{ServerName: "127.0.0.1", RootCAs: d.roots}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	if err := c.Login(addr, mailPass).Wait(); err != nil {
		t.Fatalf("login %s: %v", addr, err)
	}
	return c
}

// imapCount returns the number of messages in a folder (-1 when it does not
// exist yet).
func imapCount(c *imapclient.Client, folder string) int {
	st, err := c.Status(folder, &imap.StatusOptions{NumMessages: true}).Wait()
	if err != nil || st.NumMessages == nil {
		return -1
	}
	return int(*st.NumMessages)
}

// imapFetchAll returns every message of a folder, whole, without setting \Seen.
func imapFetchAll(t *testing.T, c *imapclient.Client, folder string) [][]byte {
	t.Helper()
	sel, err := c.Select(folder, &imap.SelectOptions{ReadOnly: true}).Wait()
	if err != nil {
		t.Fatal(err)
	}
	if sel.NumMessages == 0 {
		return nil
	}
	section := &imap.FetchItemBodySection{Peek: true}
	msgs, err := c.Fetch(imap.SeqSetNum(seqRange(sel.NumMessages)...), &imap.FetchOptions{BodySection: []*imap.FetchItemBodySection{section}}).Collect()
	if err != nil {
		t.Fatal(err)
	}
	var out [][]byte
	for _, m := range msgs {
		out = append(out, m.FindBodySection(section))
	}
	return out
}

func seqRange(n uint32) []uint32 {
	var s []uint32
	for i := uint32(1); i <= n; i++ {
		s = append(s, i)
	}
	return s
}
