// Package integration holds the tests that run intake as operators do: the
// real binary killed with SIGKILL at each step of the flow and restarted
// (crash safety), and the daemon against Dovecot and Postfix from Debian's
// packages, started by the tests on loopback ports. It has no code of its
// own: everything is in its _test files.
//
// Under CI=true every test runs (`make test` installs the servers first);
// elsewhere the real-server tests skip, saying what is missing.
package integration
