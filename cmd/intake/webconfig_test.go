package main

import (
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
)

// web.oidc alone makes a dashboard (no Basic users): its secret comes from
// the environment, a browser is sent to sign in, and a role value naming
// no role is refused at start, with the setting named.
func TestWebOIDCConfig(t *testing.T) {
	clearIntakeEnv(t)
	t.Setenv("INTAKE_OIDC_CLIENT_SECRET", "from-env")
	dir := t.TempDir()
	cfgFile := filepath.Join(dir, "intake.yaml")
	writeTestFile(t, cfgFile, `store: `+filepath.Join(dir, "intake.db")+`
from: allocation-management@opm.gov
web:
  oidc:
    issuer: http://127.0.0.1:1/
    client_id: intake
    redirect_url: http://127.0.0.1:8080/auth/callback
    role_values: {IntakeAdmins: admin}
`)
	a, err := openTestApp(t, cfgFile)
	if err != nil {
		t.Fatal(err)
	}
	if a.cfg.Web.OIDC.ClientSecret != "from-env" {
		t.Errorf("client secret %q, want the environment's", a.cfg.Web.OIDC.ClientSecret)
	}
	h, err := a.webHandler()
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest("GET", "/submissions", nil))
	if rec.Code != http.StatusSeeOther || !strings.HasPrefix(rec.Header().Get("Location"), "/login?") {
		t.Errorf("not signed in: %d %s", rec.Code, rec.Header().Get("Location"))
	}

	writeTestFile(t, cfgFile, `store: `+filepath.Join(dir, "intake.db")+`
from: allocation-management@opm.gov
web:
  oidc: {issuer: http://127.0.0.1:1/, client_id: intake, redirect_url: http://127.0.0.1:8080/auth/callback, role_values: {X: boss}}
`)
	if _, err := LoadConfig(cfgFile); err == nil || !strings.Contains(err.Error(), "web.oidc.role_values.X") {
		t.Errorf("a role value naming no role: %v", err)
	}
}
