package integration_test

import (
	"bytes"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/base64"
	"fmt"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/emersion/go-msgauth/dkim"

	"intake/internal/testenv"
)

// receivingID is the authserv-id of the receiving Postfix's verifiers
// (OpenDKIM and OpenDMARC), which the daemon trusts.
const receivingID = "mx.opm.gov"

// milterOptions configure the receiving server's verifiers.
type milterOptions struct {
	// DNS holds the TXT records the verifiers see (DKIM keys, DMARC
	// records), served from files: the tests have no DNS.
	DNS map[string]string
	// Strip has OpenDKIM, the first milter, delete every incoming
	// Authentication-Results field naming receivingID before OpenDMARC
	// reads the message (RFC 8601 section 5), as the README asks of a
	// receiving server.
	Strip bool
}

// milters are OpenDKIM and OpenDMARC from Debian's packages, run in the
// foreground on loopback ports for one test and stopped when it ends.
type milters struct {
	addrs []string // milter sockets, in the order Postfix must call them
}

// startMilters starts OpenDKIM (verify only) and OpenDMARC, both stamping
// Authentication-Results with receivingID.
func startMilters(t *testing.T, o milterOptions) *milters {
	t.Helper()
	dkimBin := testenv.LookPath(t, "opendkim", "package opendkim; "+installHint)
	dmarcBin := testenv.LookPath(t, "opendmarc", "package opendmarc; "+installHint)
	dir := t.TempDir()
	if err := os.Chmod(dir, 0o755); err != nil { // the milters may run as their own users
		t.Fatal(err)
	}
	var names []string
	for name := range o.DNS {
		names = append(names, name)
	}
	sort.Strings(names)
	var dkimDNS, dmarcDNS strings.Builder
	for _, name := range names {
		if strings.HasPrefix(name, "_dmarc.") {
			fmt.Fprintf(&dmarcDNS, "%s %s\n", name, o.DNS[name])
		} else {
			fmt.Fprintf(&dkimDNS, "%s %s\n", name, o.DNS[name])
		}
	}
	// OpenDMARC ignores mail from 127.0.0.1 unless told otherwise; the
	// tests' agencies connect from there. It ignores a documentation
	// address instead.
	files := map[string]string{"dkim-dns": dkimDNS.String(), "dmarc-dns": dmarcDNS.String(), "dmarc-ignore": "192.0.2.1\n"}
	for name, content := range files {
		if err := os.Chmod(writeFile(t, dir, name, content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dkimPort, dmarcPort := freePort(t), freePort(t)
	dkimConf := fmt.Sprintf(`Mode v
Background no
Syslog no
Socket inet:%d@127.0.0.1
PidFile %s/opendkim.pid
AuthservID %s
AlwaysAddARHeader yes
TestDNSData file:%s/dkim-dns
`, dkimPort, dir, receivingID, dir)
	if o.Strip {
		dkimConf += "RemoveARAll yes\nRemoveARFrom " + receivingID + "\n"
	}
	dmarcConf := fmt.Sprintf(`Background false
Syslog false
Socket inet:%d@127.0.0.1
PidFile %s/opendmarc.pid
AuthservID %s
TrustedAuthservIDs %s
TestDNSData %s/dmarc-dns
RejectFailures false
SPFIgnoreResults true
RequiredHeaders false
IgnoreHosts %s/dmarc-ignore
`, dmarcPort, dir, receivingID, receivingID, dir, dir)
	if os.Geteuid() == 0 {
		// Neither runs as root; Debian's packages made their users.
		if _, err := user.Lookup("opendkim"); err == nil {
			dkimConf += "UserID opendkim\n"
		}
		if _, err := user.Lookup("opendmarc"); err == nil {
			dmarcConf += "UserID opendmarc\n"
		}
	}
	m := &milters{}
	for _, p := range []struct {
		bin, name, conf, confFlag string
		port                      int
	}{
		{dkimBin, "opendkim", dkimConf, "-x", dkimPort},
		{dmarcBin, "opendmarc", dmarcConf, "-c", dmarcPort},
	} {
		conf := writeFile(t, dir, p.name+".conf", p.conf)
		if err := os.Chmod(conf, 0o644); err != nil {
			t.Fatal(err)
		}
		logPath := filepath.Join(dir, p.name+".log")
		logFile, err := os.Create(logPath)
		if err != nil {
			t.Fatal(err)
		}
		cmd := exec.Command(p.bin, "-f", p.confFlag, conf)
		cmd.Stdout, cmd.Stderr = logFile, logFile
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if err := cmd.Start(); err != nil {
			logFile.Close()
			t.Fatalf("%s: %v", p.name, err)
		}
		exited := make(chan struct{})
		go func() { _ = cmd.Wait(); close(exited) }()
		name := p.name
		t.Cleanup(func() {
			_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGTERM)
			select {
			case <-exited:
			case <-time.After(10 * time.Second):
				_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
				<-exited
			}
			logFile.Close()
			if t.Failed() {
				t.Logf("%s log:\n%s", name, tail(logPath, 4000))
			}
		})
		addr := net.JoinHostPort("127.0.0.1", strconv.Itoa(p.port))
		waitFor(t, 20*time.Second, p.name+" listening on "+addr, func() bool {
			select {
			case <-exited:
				t.Fatalf("%s %s exited:\n%s", p.name, conf, tail(logPath, 3000))
			default:
			}
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
		m.addrs = append(m.addrs, "inet:"+addr)
	}
	return m
}

// signingKey is an agency's DKIM key.
type signingKey struct {
	domain, selector string
	signer           crypto.Signer
}

func newSigningKey(t *testing.T, domain string) signingKey {
	t.Helper()
	k, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	return signingKey{domain: domain, selector: "agency2025", signer: k}
}

// record returns the key's DNS name and TXT record (RFC 6376 section
// 3.6.1), written without spaces (the milters' test data files split on
// them).
func (k signingKey) record(t *testing.T) (string, string) {
	t.Helper()
	der, err := x509.MarshalPKIXPublicKey(k.signer.Public())
	if err != nil {
		t.Fatal(err)
	}
	return k.selector + "._domainkey." + k.domain, "v=DKIM1;k=rsa;p=" + base64.StdEncoding.EncodeToString(der)
}

// sign DKIM-signs raw as the agency's outgoing server would.
func (k signingKey) sign(t *testing.T, raw []byte) []byte {
	t.Helper()
	var out bytes.Buffer
	if err := dkim.Sign(&out, bytes.NewReader(raw), &dkim.SignOptions{Domain: k.domain, Selector: k.selector, Signer: k.signer,
		HeaderKeys: []string{"From", "To", "Subject", "Date", "Message-ID", "MIME-Version", "Content-Type"}}); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}
