package signin

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/tls"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
	"golang.org/x/oauth2/google"
)

// Scopes asked for by default.
const (
	// ScopeExchange: IMAP and SMTP of Exchange Online with an app's own
	// permissions (IMAP.AccessAsApp, SMTP.SendAsApp).
	ScopeExchange = "https://outlook.office365.com/.default"
	// ScopeGmail: IMAP and SMTP of Gmail / Google Workspace.
	ScopeGmail = "https://mail.google.com/"
)

// EntraTokenURL is the token endpoint of a Microsoft Entra ID tenant
// (its id, or a verified domain such as opm.gov).
func EntraTokenURL(tenant string) string {
	return "https://login.microsoftonline.com/" + url.PathEscape(tenant) + "/oauth2/v2.0/token"
}

// ClientCredentials describes an app registration that gets its tokens by
// the client credentials grant (RFC 6749 section 4.4), authenticated by a
// client secret or by a client certificate (RFC 7523 client assertion, as
// Microsoft Entra ID accepts).
type ClientCredentials struct {
	TokenURL string // the identity provider's token endpoint
	ClientID string
	// ClientSecret, or else Certificate (its Leaf or first DER and an RSA
	// private key), authenticates the client.
	ClientSecret string
	Certificate  *tls.Certificate
	Scopes       []string     // default ScopeExchange
	HTTPClient   *http.Client // default: a client with a 30 s timeout
	Now          func() time.Time
}

// Fetcher returns the fetcher of tokens for the app.
func (c ClientCredentials) Fetcher() (Fetcher, error) {
	if c.TokenURL == "" || c.ClientID == "" {
		return nil, errors.New("signin: client credentials need a token URL (or tenant) and a client id")
	}
	if (c.ClientSecret == "") == (c.Certificate == nil) {
		return nil, errors.New("signin: client credentials need a client secret or a client certificate (one of them)")
	}
	scopes := c.Scopes
	if len(scopes) == 0 {
		scopes = []string{ScopeExchange}
	}
	now := c.Now
	if now == nil {
		now = time.Now
	}
	var key *rsa.PrivateKey
	var thumb string
	if c.Certificate != nil {
		var ok bool
		if key, ok = c.Certificate.PrivateKey.(*rsa.PrivateKey); !ok {
			return nil, errors.New("signin: the client certificate's key must be RSA (as Entra ID requires)")
		}
		if len(c.Certificate.Certificate) == 0 {
			return nil, errors.New("signin: the client certificate file holds no certificate")
		}
		// x5t: the certificate's SHA-1 thumbprint, by which Entra ID finds
		// the certificate uploaded to the app registration.
		sum := sha1.Sum(c.Certificate.Certificate[0])
		thumb = base64.RawURLEncoding.EncodeToString(sum[:])
	}
	hc := httpClient(c.HTTPClient)
	return func(ctx context.Context) (*oauth2.Token, error) {
		cfg := clientcredentials.Config{ClientID: c.ClientID, ClientSecret: c.ClientSecret, TokenURL: c.TokenURL,
			Scopes: scopes, AuthStyle: oauth2.AuthStyleInParams}
		if key != nil {
			assertion, err := clientAssertion(key, thumb, c.ClientID, c.TokenURL, now())
			if err != nil {
				return nil, err
			}
			cfg.EndpointParams = url.Values{
				"client_assertion_type": {"urn:ietf:params:oauth:client-assertion-type:jwt-bearer"},
				"client_assertion":      {assertion},
			}
		}
		return cfg.Token(context.WithValue(ctx, oauth2.HTTPClient, hc))
	}, nil
}

// clientAssertion is the signed JWT that proves the client holds the
// certificate's key (RFC 7523 section 2.2; Microsoft identity platform
// "certificate credentials"): issued by and about the client, for the token
// endpoint, valid ten minutes, never reused (jti).
func clientAssertion(key *rsa.PrivateKey, thumb, clientID, tokenURL string, now time.Time) (string, error) {
	jti := make([]byte, 16)
	if _, err := rand.Read(jti); err != nil {
		return "", err
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, jwt.RegisteredClaims{
		Issuer: clientID, Subject: clientID, Audience: jwt.ClaimStrings{tokenURL}, ID: hex.EncodeToString(jti),
		IssuedAt: jwt.NewNumericDate(now), NotBefore: jwt.NewNumericDate(now), ExpiresAt: jwt.NewNumericDate(now.Add(10 * time.Minute)),
	})
	tok.Header["x5t"] = thumb
	s, err := tok.SignedString(key)
	if err != nil {
		return "", fmt.Errorf("signin: sign the client assertion: %w", err)
	}
	return s, nil
}

// ServiceAccount describes a Google service account with domain-wide
// delegation: it signs a JWT (RFC 7523 authorization grant) asking for a
// token to act as Subject, the mailbox's user.
type ServiceAccount struct {
	KeyJSON    []byte // the key file Google Cloud gives for the account
	Subject    string // the Workspace user whose mailbox is read
	Scopes     []string
	TokenURL   string // default: the one in the key file
	HTTPClient *http.Client
}

// Fetcher returns the fetcher of tokens for the account.
func (s ServiceAccount) Fetcher() (Fetcher, error) {
	scopes := s.Scopes
	if len(scopes) == 0 {
		scopes = []string{ScopeGmail}
	}
	cfg, err := google.JWTConfigFromJSON(s.KeyJSON, scopes...)
	if err != nil {
		return nil, fmt.Errorf("signin: service account key: %w", err)
	}
	if s.Subject == "" {
		return nil, errors.New("signin: a service account needs the mailbox user to act as (subject)")
	}
	cfg.Subject = s.Subject
	if s.TokenURL != "" {
		cfg.TokenURL = s.TokenURL
	}
	hc := httpClient(s.HTTPClient)
	return func(ctx context.Context) (*oauth2.Token, error) {
		// A new source each time: the caller caches (Tokens), and a
		// refused token must not come back from a cache of the library's.
		return cfg.TokenSource(context.WithValue(ctx, oauth2.HTTPClient, hc)).Token()
	}, nil
}

func httpClient(hc *http.Client) *http.Client {
	if hc != nil {
		return hc
	}
	return &http.Client{Timeout: 30 * time.Second}
}
