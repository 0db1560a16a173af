package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"os"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

// Config is the one configuration file (`--config`). Every secret can also
// come from the environment or from a file; see secret().
type Config struct {
	Store        string   `yaml:"store"`         // SQLite file
	CallsDir     string   `yaml:"calls_dir"`     // more data-call definitions (*.yaml), beside the built-ins
	ReferenceDir string   `yaml:"reference_dir"` // reference data: derived/agency_subelements.csv, derived/pay_plans.csv, dotgov/current-federal.csv
	From         string   `yaml:"from"`          // the bot's address
	FromName     string   `yaml:"from_name"`
	Organization string   `yaml:"organization"`
	OwnAddresses []string `yaml:"own_addresses"` // further addresses of the bot, never answered
	DefaultCall  string   `yaml:"default_call"`  // call for mail that names none

	IMAP  IMAPConfig  `yaml:"imap"`
	SMTP  SMTPConfig  `yaml:"smtp"`
	OAuth OAuthConfig `yaml:"oauth"` // the app registration both servers' tokens come from (auth xoauth2 | oauthbearer)
	// Mailboxes: more mailboxes the daemon answers besides imap's (a
	// second data-call address), each with its own folders; see mailboxes.go.
	Mailboxes []MailboxConfig `yaml:"mailboxes"`
	Folders   FoldersConfig   `yaml:"folders"`
	Auth      AuthConfig      `yaml:"auth"`
	SMIME     SMIMEConfig     `yaml:"smime"`     // pii.go
	PII       PIIConfig       `yaml:"passwords"` // pii.go

	Agencies []AgencyConfig `yaml:"agencies"`

	MaxAttempts int `yaml:"max_attempts"` // processing attempts before quarantine
	Workers     int `yaml:"workers"`      // mail decided side by side (0: the number of CPUs, at least 2)
	// MaxProcessTime bounds the deciding of one mail; past it the mail is
	// quarantined with the reason (0: 5 minutes).
	MaxProcessTime time.Duration `yaml:"max_process_time"`
	MaxMessageMB   int           `yaml:"max_message_mb"`  // larger mail is answered unread
	Limits         LimitsConfig  `yaml:"limits"`          // per submission (limits.go)
	MemoryLimitMB  int           `yaml:"memory_limit_mb"` // soft limit of the daemon's Go heap (run.go); -1: none
	RatePerSender  int           `yaml:"rate_per_sender"` // replies per sender per rate_window
	RateWindow     time.Duration `yaml:"rate_window"`     //
	ReminderDays   int           `yaml:"reminder_days"`   // 0: no reminders
	// RetentionDays: raw mail that was not a submission (refused, ignored,
	// bounces) is purged after this many days (default 90; -1 keeps it).
	RetentionDays int           `yaml:"retention_days"`
	StartFromNow  bool          `yaml:"start_from_now"` // skip mail already in the mailbox on first contact
	DryRun        bool          `yaml:"dry_run"`        // read-only mailbox, no replies sent
	PollInterval  time.Duration `yaml:"poll_interval"`  // without IDLE; also the IDLE refresh
	RetryMin      time.Duration `yaml:"retry_min"`      // first wait before retrying a reply or a connection; doubles up to retry_max
	RetryMax      time.Duration `yaml:"retry_max"`      //

	Web WebConfig `yaml:"web"`
	Log LogConfig `yaml:"log"`
}

type IMAPConfig struct {
	Addr         string        `yaml:"addr"`     // host:port
	TLS          string        `yaml:"tls"`      // tls | starttls | none
	CAFile       string        `yaml:"ca_file"`  // extra CA (a private CA in front of the server)
	Username     string        `yaml:"username"` //
	Password     string        `yaml:"password"` // or password_file, or $INTAKE_IMAP_PASSWORD
	PasswordFile string        `yaml:"password_file"`
	Auth         string        `yaml:"auth"`          // plain | login | xoauth2 | oauthbearer
	TokenFile    string        `yaml:"token_file"`    // an access token, read at each sign-in; or $INTAKE_IMAP_TOKEN
	TokenCommand string        `yaml:"token_command"` // a command printing an access token, run at each sign-in (like mbsync's PassCmd)
	Mailbox      string        `yaml:"mailbox"`
	Timeout      time.Duration `yaml:"timeout"`
	DisableIdle  bool          `yaml:"disable_idle"` // poll even where IDLE is offered
}

type SMTPConfig struct {
	Host         string        `yaml:"host"`
	Port         int           `yaml:"port"`
	TLS          string        `yaml:"tls"` // starttls | tls | none
	CAFile       string        `yaml:"ca_file"`
	Username     string        `yaml:"username"`
	Password     string        `yaml:"password"` // or password_file, or $INTAKE_SMTP_PASSWORD
	PasswordFile string        `yaml:"password_file"`
	Auth         string        `yaml:"auth"`          // plain | xoauth2 | oauthbearer
	TokenFile    string        `yaml:"token_file"`    // or $INTAKE_SMTP_TOKEN
	TokenCommand string        `yaml:"token_command"` //
	HELO         string        `yaml:"helo"`
	Timeout      time.Duration `yaml:"timeout"`
	Connections  int           `yaml:"connections"` // sessions replies go out over side by side (default 3)
}

// OAuthConfig is an OAuth 2.0 client that gets access tokens for the mail
// servers by itself: an app registration of Microsoft Entra ID (client
// credentials, with a client secret or a certificate), a Google service
// account with domain-wide delegation, or any provider's token endpoint.
type OAuthConfig struct {
	Provider         string   `yaml:"provider"`             // entra | google | other (token_url)
	Tenant           string   `yaml:"tenant"`               // entra: the tenant id or a verified domain
	TokenURL         string   `yaml:"token_url"`            // default from the provider
	ClientID         string   `yaml:"client_id"`            // entra, other
	ClientSecret     string   `yaml:"client_secret"`        // or client_secret_file, or $INTAKE_OAUTH_CLIENT_SECRET
	ClientSecretFile string   `yaml:"client_secret_file"`   //
	CertificateFile  string   `yaml:"certificate_file"`     // instead of a secret: PEM certificate uploaded to the app
	KeyFile          string   `yaml:"key_file"`             // its PEM private key (RSA); default certificate_file
	ServiceAccount   string   `yaml:"service_account_file"` // google: the service account's JSON key
	Scopes           []string `yaml:"scopes"`               // default: Exchange Online's or Gmail's
}

// set reports whether an OAuth client is configured.
func (o OAuthConfig) set() bool {
	return o.Provider != "" || o.ClientID != "" || o.Tenant != "" || o.TokenURL != "" || o.ServiceAccount != ""
}

type FoldersConfig struct {
	Accepted   string `yaml:"accepted"`
	Deficient  string `yaml:"deficient"`
	Ignored    string `yaml:"ignored"`
	Bounces    string `yaml:"bounces"`
	Quarantine string `yaml:"quarantine"`
	Questions  string `yaml:"questions"` // questions from agencies, for staff (default Questions)
}

// AuthConfig says how senders are authenticated (README, Security). Left
// out, the daemon verifies DKIM and DMARC alignment itself: no setting
// left out lets unauthenticated mail in.
type AuthConfig struct {
	// Mode is authserv (trust the receiving server's
	// Authentication-Results; the default when trusted_authserv_id is
	// set), verify (the daemon verifies DKIM and DMARC alignment itself;
	// the default otherwise) or none (no sender authentication: only with
	// both mail servers on loopback, and warned about at every start).
	Mode string `yaml:"mode"`
	// TrustedAuthServID is the authserv-id of the receiving server's
	// Authentication-Results; others are ignored (a sender can forge them).
	TrustedAuthServID string `yaml:"trusted_authserv_id"`
	// ReceivedHops is how many Received fields our own servers add, the
	// receiving server's included (default 1); only Authentication-Results
	// above the last of them are trusted.
	ReceivedHops int `yaml:"received_hops"`
	// RequireDMARC is kept for older files: authentication is always
	// required, so only true is accepted.
	RequireDMARC *bool `yaml:"require_dmarc"`
}

type AgencyConfig struct {
	Code    string   `yaml:"code"`
	Name    string   `yaml:"name"`
	Senders []string `yaml:"senders"` // addresses, or "@domain"
	// GovOrganization adds every .gov domain the reference data lists for
	// this organisation (e.g. "Department of Homeland Security").
	GovOrganization string   `yaml:"gov_organization"`
	Contacts        []string `yaml:"contacts"` // reminder recipients
	// WorkbookPasswordFile holds the agency's password for encrypted
	// workbooks (its first line), or $INTAKE_WORKBOOK_PASSWORD_<CODE>.
	WorkbookPasswordFile string `yaml:"workbook_password_file"`
	WorkbookPassword     string `yaml:"-"` // resolved; never logged
}

type LogConfig struct {
	Level  string `yaml:"level"`  // debug | info | warn | error
	Format string `yaml:"format"` // text | json
}

// LoadConfig reads and validates a configuration file; unknown keys are
// refused, so a typo is not silently ignored.
func LoadConfig(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("config: %w", err)
	}
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(string(data)))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	c.applyDefaults()
	c.mailboxDefaults() // mailboxes.go
	if err := c.resolveSecrets(); err != nil {
		return nil, err
	}
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("config %s: %w", path, err)
	}
	return &c, nil
}

func (c *Config) applyDefaults() {
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&c.Store, "intake.db")
	def(&c.FromName, "Data Call Intake")
	def(&c.IMAP.TLS, "tls")
	def(&c.IMAP.Auth, "plain")
	def(&c.IMAP.Mailbox, "INBOX")
	def(&c.SMTP.TLS, "starttls")
	def(&c.Log.Level, "info")
	def(&c.Log.Format, "text")
	if c.SMTP.Port == 0 {
		c.SMTP.Port = 587
		if c.SMTP.TLS == "tls" {
			c.SMTP.Port = 465
		}
	}
	if c.RetentionDays == 0 {
		c.RetentionDays = 90
	}
	if c.MemoryLimitMB == 0 {
		c.MemoryLimitMB = defaultMemoryLimitMB
	}
	if c.RetryMin == 0 {
		c.RetryMin = 30 * time.Second
	}
	if c.RetryMax == 0 {
		c.RetryMax = time.Hour
	}
}

// resolveSecrets fills every secret from, in order: the file named in the
// configuration, the environment, the configuration value itself.
func (c *Config) resolveSecrets() error {
	for _, s := range []struct {
		dst  *string
		file string
		env  string
	}{
		{&c.IMAP.Password, c.IMAP.PasswordFile, "INTAKE_IMAP_PASSWORD"},
		{&c.SMTP.Password, c.SMTP.PasswordFile, "INTAKE_SMTP_PASSWORD"},
		{&c.OAuth.ClientSecret, c.OAuth.ClientSecretFile, "INTAKE_OAUTH_CLIENT_SECRET"},
	} {
		v, err := secret(*s.dst, s.file, s.env)
		if err != nil {
			return err
		}
		*s.dst = v
	}
	for i := range c.Mailboxes {
		// A mailbox naming no password of its own has the top-level one.
		m := &c.Mailboxes[i].IMAP
		if m.Password == "" && m.PasswordFile == "" {
			m.Password = c.IMAP.Password
			continue
		}
		v, err := secret(m.Password, m.PasswordFile, "")
		if err != nil {
			return fmt.Errorf("mailboxes[%d]: %w", i, err)
		}
		m.Password = v
	}
	if err := c.Web.fromEnv(); err != nil { // webconfig.go
		return err
	}
	return c.resolveWorkbookPasswords() // pii.go
}

func secret(value, file, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("config: secret file: %w", err)
		}
		return strings.TrimSpace(string(b)), nil
	}
	if v := os.Getenv(env); v != "" {
		return v, nil
	}
	return value, nil
}

// Validate checks settings against each other; each message names the
// setting.
func (c *Config) Validate() error {
	var errs []error
	bad := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }
	if !strings.Contains(c.From, "@") {
		bad("from: the bot's address is required (e.g. allocation-management@opm.gov)")
	}
	oneOf := func(name, v string, allowed ...string) {
		for _, a := range allowed {
			if v == a {
				return
			}
		}
		bad("%s: %q is not one of %s", name, v, strings.Join(allowed, ", "))
	}
	oneOf("imap.tls", c.IMAP.TLS, "tls", "starttls", "none")
	oneOf("imap.auth", c.IMAP.Auth, "plain", "login", "xoauth2", "oauthbearer")
	oneOf("smtp.tls", c.SMTP.TLS, "tls", "starttls", "none")
	oneOf("log.level", c.Log.Level, "debug", "info", "warn", "error")
	oneOf("log.format", c.Log.Format, "text", "json")
	if c.SMTP.Auth != "" {
		oneOf("smtp.auth", c.SMTP.Auth, "plain", "xoauth2", "oauthbearer")
	}
	if c.Workers < 0 {
		bad("workers: %d is negative (0 means the number of CPUs)", c.Workers)
	}
	if c.SMTP.Connections < 0 {
		bad("smtp.connections: %d is negative (0 means 3)", c.SMTP.Connections)
	}
	if c.MemoryLimitMB < -1 {
		bad("memory_limit_mb: %d: give a number of MiB, or -1 for no limit", c.MemoryLimitMB)
	}
	if c.MaxProcessTime < 0 {
		bad("max_process_time: %s is negative (0 means 5m)", c.MaxProcessTime)
	}
	errs = append(errs, c.Limits.validate()...)   // limits.go
	errs = append(errs, c.validateSignIn()...)    // signin.go
	errs = append(errs, c.validateMailboxes()...) // mailboxes.go
	if c.RetryMin <= 0 || c.RetryMax < c.RetryMin {
		bad("retry_min and retry_max: need 0 < retry_min <= retry_max (got %s, %s)", c.RetryMin, c.RetryMax)
	}
	if err := c.Web.validate(); err != nil { // webconfig.go
		errs = append(errs, err)
	}
	if c.Auth.Mode != "" {
		oneOf("auth.mode", c.Auth.Mode, "authserv", "verify", "none")
	}
	if c.Auth.Mode == "authserv" && c.Auth.TrustedAuthServID == "" {
		bad("auth.mode authserv needs auth.trusted_authserv_id (whose Authentication-Results to trust)")
	}
	if c.Auth.RequireDMARC != nil && !*c.Auth.RequireDMARC {
		bad("auth.require_dmarc: false is not supported: sender authentication is always required (auth.mode none is for loopback tests only)")
	}
	if err := c.validatePII(); err != nil { // pii.go
		errs = append(errs, err)
	}
	if c.RetentionDays < -1 {
		bad("retention_days: %d: give a number of days, or -1 to keep raw mail forever", c.RetentionDays)
	}
	if c.Auth.ReceivedHops < 0 {
		bad("auth.received_hops: %d is negative", c.Auth.ReceivedHops)
	}
	seen := map[string]bool{}
	for i, a := range c.Agencies {
		if a.Code == "" {
			bad("agencies[%d]: code is required", i)
		}
		if seen[a.Code] {
			bad("agencies[%d]: code %q appears twice", i, a.Code)
		}
		seen[a.Code] = true
		if len(a.Senders) == 0 && a.GovOrganization == "" {
			bad("agencies[%d] (%s): senders or gov_organization is required", i, a.Code)
		}
		for _, s := range a.Senders {
			if !strings.Contains(s, "@") {
				bad("agencies[%d] (%s): sender %q is neither an address nor @domain", i, a.Code, s)
			}
		}
		if a.GovOrganization != "" && c.ReferenceDir == "" {
			bad("agencies[%d] (%s): gov_organization needs reference_dir", i, a.Code)
		}
	}
	return errors.Join(errs...)
}

// ValidateDaemon adds what `run` needs beyond the offline commands.
func (c *Config) ValidateDaemon() error {
	var errs []error
	if c.IMAP.Addr == "" {
		errs = append(errs, errors.New("imap.addr is required"))
	}
	if c.SMTP.Host == "" {
		errs = append(errs, errors.New("smtp.host is required"))
	}
	if len(c.Agencies) == 0 {
		errs = append(errs, errors.New("agencies: no agency may submit: list at least one"))
	}
	return errors.Join(errs...)
}

func tlsConfig(host, caFile string) (*tls.Config, error) {
	cfg := &tls.Config{ServerName: host, MinVersion: tls.VersionTLS12}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("config: ca_file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("config: ca_file %s: no certificate found", caFile)
		}
		cfg.RootCAs = pool
	}
	return cfg, nil
}

// rawRetention is retention_days as a duration; 0 keeps raw mail.
func (c *Config) rawRetention() time.Duration {
	if c.RetentionDays <= 0 {
		return 0
	}
	return time.Duration(c.RetentionDays) * 24 * time.Hour
}
