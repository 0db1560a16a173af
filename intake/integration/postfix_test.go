package integration_test

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"intake/internal/testenv"
)

// postfix is the system's Postfix, reconfigured for one test: loopback
// only, no local delivery, the test's domains handed over LMTP to Dovecot,
// and an extra smtpd on a free loopback port. Its configuration files are
// restored and it is stopped (or restarted, if it was running) when the
// test ends.
type postfix struct {
	smtpAddr string // the extra smtpd, 127.0.0.1:PORT
	// submissionAddr: with postfixOptions.SASLPort, an smtpd that takes
	// mail only after SMTP AUTH, checked by Dovecot's authentication.
	submissionAddr string
	logFile        string
}

// postfixOptions vary the test's Postfix.
type postfixOptions struct {
	// SASLPort, when set, adds the submission smtpd, authenticating
	// clients with Dovecot's authentication service on this port.
	SASLPort int
}

// postfixLock is the file that serialises the tests (of any package,
// in any process) that reconfigure the system's Postfix.
func postfixLock() string { return filepath.Join(os.TempDir(), "intake-test-postfix.lock") }

// privileged runs a Postfix administration command: directly as root,
// else through `sudo -n` (CI runners have passwordless sudo).
type privileged struct{ sudo bool }

func (p privileged) run(stdin []byte, name string, args ...string) ([]byte, error) {
	if p.sudo {
		args = append([]string{"-n", name}, args...)
		name = "sudo"
	}
	cmd := exec.Command(name, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	// Output goes to a file: `postfix start` leaves daemons behind that
	// may hold a pipe open, and reading it would never end.
	out, err := os.CreateTemp("", "intake-postfix-cmd-")
	if err != nil {
		return nil, err
	}
	defer os.Remove(out.Name())
	defer out.Close()
	cmd.Stdout, cmd.Stderr = out, out
	runErr := cmd.Run()
	b, _ := os.ReadFile(out.Name())
	return b, runErr
}

// startPostfix configures and starts Postfix to deliver mail for domains
// over LMTP to 127.0.0.1:lmtpPort, through the milters when there are any
// (mail is refused with a temporary error while they are down, never let
// through unverified).
func startPostfix(t *testing.T, domains []string, lmtpPort int, ms ...*milters) *postfix {
	t.Helper()
	return startPostfixWith(t, postfixOptions{}, domains, lmtpPort, ms...)
}

// startPostfixWith is startPostfix, as o says.
func startPostfixWith(t *testing.T, o postfixOptions, domains []string, lmtpPort int, ms ...*milters) *postfix {
	t.Helper()
	postfixBin := testenv.LookPath(t, "postfix", "package postfix; "+installHint)
	postconf := testenv.LookPath(t, "postconf", "package postfix; "+installHint)
	var p privileged
	if os.Geteuid() != 0 {
		if _, err := exec.LookPath("sudo"); err != nil {
			testenv.Missing(t, "root or passwordless sudo (to reconfigure the system's Postfix)")
		}
		if out, err := exec.Command("sudo", "-n", "true").CombinedOutput(); err != nil {
			testenv.Missing(t, fmt.Sprintf("root or passwordless sudo (to reconfigure the system's Postfix): %v %s", err, out))
		}
		p.sudo = true
	}
	run := func(stdin []byte, name string, args ...string) string {
		t.Helper()
		out, err := p.run(stdin, name, args...)
		if err != nil {
			t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// One test at a time reconfigures the system's Postfix.
	lock, err := os.OpenFile(postfixLock(), os.O_CREATE|os.O_RDWR, 0o666)
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		lock.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
		lock.Close()
	})

	confDir := strings.TrimSpace(run(nil, postconf, "-d", "-h", "config_directory"))
	saved := map[string][]byte{} // nil: the file did not exist
	for _, name := range []string{"main.cf", "master.cf"} {
		b, err := os.ReadFile(filepath.Join(confDir, name))
		if err != nil && !errors.Is(err, fs.ErrNotExist) {
			t.Fatal(err)
		}
		saved[name] = b
	}
	_, statusErr := p.run(nil, postfixBin, "status")
	wasRunning := statusErr == nil

	dir := t.TempDir()
	if os.Geteuid() == 0 {
		// postlogd writes the log file here.
		_ = os.Chmod(dir, 0o755)
	}
	pf := &postfix{logFile: filepath.Join(dir, "postfix.log")}
	port := freePort(t)
	pf.smtpAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(port))

	t.Cleanup(func() {
		if out, err := p.run(nil, postfixBin, "stop"); err != nil {
			t.Errorf("postfix stop: %v\n%s", err, out)
		}
		// Nothing the test queued may be delivered later, elsewhere.
		_, _ = p.run(nil, "postsuper", "-d", "ALL")
		for name, b := range saved {
			path := filepath.Join(confDir, name)
			var err error
			var out []byte
			if b == nil {
				out, err = p.run(nil, "rm", "-f", path)
			} else {
				out, err = p.run(b, "tee", path)
			}
			if err != nil {
				t.Errorf("restore %s: %v\n%s", path, err, out)
			}
		}
		if wasRunning {
			if out, err := p.run(nil, postfixBin, "start"); err != nil {
				t.Errorf("postfix start (restoring the running system instance): %v\n%s", err, out)
			}
		}
		if t.Failed() {
			t.Logf("postfix log:\n%s", tail(pf.logFile, 6000))
		}
	})
	if wasRunning {
		run(nil, postfixBin, "stop")
	}
	if saved["main.cf"] == nil {
		run(nil, "touch", filepath.Join(confDir, "main.cf"))
	}
	run(nil, postconf, "-e",
		"compatibility_level=3.6",
		"myhostname=localhost.localdomain",
		"inet_interfaces=loopback-only",
		"inet_protocols=ipv4",
		"mydestination=",
		"mynetworks=127.0.0.0/8",
		"relayhost=",
		"alias_maps=",
		"alias_database=",
		"smtpd_tls_security_level=none",
		"smtp_tls_security_level=none",
		"smtpd_relay_restrictions=permit_mynetworks,reject_unauth_destination",
		"virtual_mailbox_domains="+strings.Join(domains, " "),
		"virtual_mailbox_maps=",
		// Dovecot's LMTP decides who exists; Postfix takes every recipient of the domains.
		"smtpd_reject_unlisted_recipient=no",
		"virtual_transport=lmtp:inet:127.0.0.1:"+strconv.Itoa(lmtpPort),
		"maillog_file="+pf.logFile,
		"smtpd_milters="+strings.Join(milterAddrs(ms), ","),
		"milter_default_action=tempfail",
		"milter_protocol=6",
		"maillog_file_prefixes=/var,/dev/stdout,"+dir,
	)
	// The extra smtpd; port 25 is left alone (commented out); no chroot, so
	// nothing has to be copied into the queue directory.
	run(nil, postconf, "-Me", fmt.Sprintf("127.0.0.1:%d/inet=127.0.0.1:%d inet n - n - - smtpd", port, port))
	if o.SASLPort != 0 {
		sub := freePort(t)
		pf.submissionAddr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sub))
		run(nil, postconf, "-Me", fmt.Sprintf("127.0.0.1:%d/inet=127.0.0.1:%d inet n - n - - smtpd"+
			" -o smtpd_sasl_auth_enable=yes -o smtpd_sasl_type=dovecot -o smtpd_sasl_path=inet:127.0.0.1:%d"+
			" -o smtpd_client_restrictions=permit_sasl_authenticated,reject -o smtpd_milters=", sub, sub, o.SASLPort))
	}
	run(nil, postconf, "-M#", "smtp/inet")
	run(nil, postconf, "-F", "*/*/chroot = n")
	// `postfix start` fails silently (it logs to syslog) on a bad
	// configuration: `postfix check` prints the fatal.
	run(nil, postfixBin, "check")
	run(nil, postfixBin, "start")
	for _, addr := range []string{pf.smtpAddr, pf.submissionAddr} {
		if addr == "" {
			continue
		}
		waitFor(t, 20*time.Second, "postfix listening on "+addr, func() bool {
			c, err := net.Dial("tcp", addr)
			if err == nil {
				c.Close()
			}
			return err == nil
		})
	}
	return pf
}

func milterAddrs(ms []*milters) []string {
	var out []string
	for _, m := range ms {
		out = append(out, m.addrs...)
	}
	return out
}
