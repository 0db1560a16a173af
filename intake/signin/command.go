package signin

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"golang.org/x/oauth2"
)

// Command runs a shell command for each token, as mbsync's PassCmd does
// for a password: its standard output is the access token (the first
// line), or a JSON object with access_token and expires_in (seconds), as
// a token endpoint answers, which is then kept until shortly before it
// expires. It must finish within timeout (default 30 s).
func Command(command string, timeout time.Duration, now func() time.Time) Fetcher {
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	if now == nil {
		now = time.Now
	}
	return func(ctx context.Context) (*oauth2.Token, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", command)
		var stdout, stderr bytes.Buffer
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		if err := cmd.Run(); err != nil {
			msg := strings.TrimSpace(stderr.String())
			if len(msg) > 200 {
				msg = msg[:200]
			}
			return nil, fmt.Errorf("token command: %w (stderr: %q)", err, msg)
		}
		return parseTokenOutput(stdout.Bytes(), now())
	}
}

// parseTokenOutput reads a token command's output.
func parseTokenOutput(out []byte, now time.Time) (*oauth2.Token, error) {
	out = bytes.TrimSpace(out)
	if bytes.HasPrefix(out, []byte("{")) {
		var v struct {
			AccessToken string `json:"access_token"`
			ExpiresIn   int64  `json:"expires_in"`
		}
		if err := json.Unmarshal(out, &v); err != nil {
			return nil, fmt.Errorf("token command: its JSON output: %w", err)
		}
		tok := &oauth2.Token{AccessToken: v.AccessToken}
		if v.ExpiresIn > 0 {
			tok.Expiry = now.Add(time.Duration(v.ExpiresIn) * time.Second)
		}
		return tok, nil
	}
	line, _, _ := bytes.Cut(out, []byte("\n"))
	tok := strings.TrimSpace(string(line))
	if tok == "" {
		return nil, errors.New("token command: printed no token")
	}
	return &oauth2.Token{AccessToken: tok}, nil
}

// File reads the token from a file at each sign-in (another program keeps
// it fresh), or, with no file, from the environment variable env.
func File(path, env string) Fetcher {
	return func(context.Context) (*oauth2.Token, error) {
		if path != "" {
			b, err := os.ReadFile(path)
			if err != nil {
				return nil, err
			}
			if tok := strings.TrimSpace(string(b)); tok != "" {
				return &oauth2.Token{AccessToken: tok}, nil
			}
			return nil, fmt.Errorf("token file %s is empty", path)
		}
		if v := os.Getenv(env); v != "" {
			return &oauth2.Token{AccessToken: v}, nil
		}
		return nil, fmt.Errorf("no token: set a token file or $%s", env)
	}
}
