package email

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// robotLocalParts are sender local parts that never read replies.
var robotLocalParts = []string{
	"mailer-daemon", "postmaster", "noreply", "no-reply", "no_reply", "donotreply",
	"do-not-reply", "do_not_reply", "bounce", "bounces", "daemon",
}

// autoSubjectPrefixes are subjects of automatic replies from servers that
// set no header saying so (e.g. Apple's vacation notice), recognised at
// the start of the subject only.
var autoSubjectPrefixes = []string{
	"undelivered mail returned to sender", "delivery status notification",
	"mail delivery failed", "returned mail:", "failure notice", "delivery failure",
}

// autoSubjectMarkers are the words automatic replies put before a colon
// in the subject, in the languages of the mail clients agencies use
// (Outlook, Exchange, Gmail, Apple Mail, Thunderbird). They are
// recognised anywhere in the subject ("RE: Automatic reply: ...",
// "[EXTERNAL] Out of Office: ..."), with or without a space before the
// colon, as a fallback for mail that carries none of the fields RFC 3834
// asks for.
var autoSubjectMarkers = []string{
	"auto reply", "autoreply", "auto-reply", "automatic reply", "auto response", "autoresponse",
	"out of office", "out of the office", "undeliverable", "auto",
	"automatische antwort", "abwesenheitsnotiz", "abwesend", // German
	"réponse automatique", "absent du bureau", "absence du bureau", // French
	"respuesta automática", "respuesta automatica", "fuera de la oficina", // Spanish
	"automatyczna odpowiedź", "automatyczna odpowiedz", // Polish
	"risposta automatica", "fuori sede", // Italian
	"resposta automática", "resposta automatica", "ausência temporária", // Portuguese
	"automatisch antwoord", "afwezig", // Dutch
	"automatiskt svar", "automatisk svar", "automatisk besked", "fraværende", // Swedish, Norwegian, Danish
	"automaattinen vastaus",                      // Finnish
	"automatická odpověď", "automatická odpoveď", // Czech, Slovak
	"automatikus válasz",                            // Hungarian
	"răspuns automat",                               // Romanian
	"αυτόματη απάντηση",                             // Greek
	"автоматический ответ", "автоматична відповідь", // Russian, Ukrainian
	"otomatik yanıt", "otomatik cevap", // Turkish
	"자동 회신", "自動回覆", "自动回复", "自動応答", "自動返信", // Korean, Chinese, Japanese
}

// readSubjectPrefixes start the subject of a read receipt from a client
// that sends it as ordinary mail ("Read: " is Outlook's).
var readSubjectPrefixes = []string{
	"read:", "gelesen:", "lu :", "lu:", "leído:", "leido:", "letto:", "lido:", "gelezen:",
	"odczytano:", "przeczytane:", "läst:", "прочитано:", "已读:", "已讀:",
}

// subjectMarker returns the marker of an automatic reply in a subject, or
// "": one of autoSubjectMarkers standing as a word before a colon.
func subjectMarker(subject string) string {
	s := strings.ToLower(subject)
	for _, m := range autoSubjectMarkers {
		for from := 0; ; {
			i := strings.Index(s[from:], m)
			if i < 0 {
				break
			}
			i += from
			from = i + len(m)
			if i > 0 {
				if r, _ := utf8.DecodeLastRuneInString(s[:i]); unicode.IsLetter(r) || unicode.IsDigit(r) {
					continue
				}
			}
			rest := strings.TrimLeft(s[i+len(m):], " \u00a0\u202f\t")
			if strings.HasPrefix(rest, ":") || strings.HasPrefix(rest, "：") {
				return m
			}
		}
	}
	return ""
}

// AutoReplyReason returns "" when an automatic reply to m may be sent, and
// otherwise why not: RFC 3834 section 2 (Auto-Submitted other than "no",
// Precedence bulk/list/junk, X-Loop naming one of own, mailing-list fields),
// the non-standard markers (X-Autoreply, X-Autorespond, Microsoft's
// X-Auto-Response-Suppress All/AutoReply/OOF, Apple's X-Apple-Action),
// reports (multipart/report), robot senders (mailer-daemon, postmaster,
// noreply), an empty return path, a missing sender, or a From that is one of
// own (the bot's addresses, compared case-insensitively).
func AutoReplyReason(m *Message, own []string) string {
	if m == nil {
		return "no message"
	}
	h := &m.Header
	if v := strings.TrimSpace(h.Get("Auto-Submitted")); v != "" {
		if tok := strings.ToLower(strings.TrimSpace(strings.SplitN(v, ";", 2)[0])); tok != "no" {
			return "Auto-Submitted: " + tok
		}
	}
	if v := strings.ToLower(strings.TrimSpace(h.Get("Precedence"))); v == "bulk" || v == "list" || v == "junk" || v == "auto_reply" {
		return "Precedence: " + v
	}
	ownSet := map[string]bool{}
	for _, a := range own {
		if a = strings.ToLower(strings.TrimSpace(a)); a != "" {
			ownSet[a] = true
		}
	}
	for _, v := range h.Values("X-Loop") {
		for _, a := range parseAddresses(v) {
			if ownSet[a.Address] {
				return "X-Loop names " + a.Address
			}
		}
		if ownSet[strings.ToLower(strings.TrimSpace(v))] {
			return "X-Loop names " + strings.TrimSpace(v)
		}
	}
	for _, k := range []string{"List-Id", "List-Unsubscribe", "List-Post"} {
		if h.Has(k) {
			return "mailing list (" + k + ")"
		}
	}
	for _, k := range []string{"X-Autoreply", "X-Autorespond", "X-Autoresponder", "X-Autogenerated", "X-Auto-Reply"} {
		if v := strings.ToLower(strings.TrimSpace(h.Get(k))); v != "" && v != "no" && v != "false" {
			return k + " present"
		}
	}
	if v := h.Get("X-Auto-Response-Suppress"); v != "" {
		for _, tok := range strings.Split(v, ",") {
			switch strings.ToLower(strings.TrimSpace(tok)) {
			case "all", "autoreply", "oof":
				return "X-Auto-Response-Suppress: " + strings.TrimSpace(v)
			}
		}
	}
	if strings.EqualFold(strings.TrimSpace(h.Get("X-Apple-Action")), "vacation") {
		return "X-Apple-Action: VACATION"
	}
	if t, _, _ := h.ContentType(); t == "multipart/report" {
		return "a report (multipart/report)"
	}
	if m.mdn {
		return "a read receipt (message/disposition-notification, RFC 8098)"
	}
	for _, a := range m.Attachments {
		if class := tnefClass(a); strings.HasPrefix(class, "REPORT.") {
			return "an Outlook report (TNEF message class " + class + ")"
		}
	}
	if m.NullReturnPath {
		return "empty return path (Return-Path: <>)"
	}
	if m.From == "" {
		return "no From address"
	}
	for _, a := range []string{m.From, m.Sender, m.ReturnPath} {
		if a == "" {
			continue
		}
		local := strings.ToLower(a)
		if i := strings.LastIndexByte(local, '@'); i >= 0 {
			local = local[:i]
		}
		for _, r := range robotLocalParts {
			if local == r || strings.HasPrefix(local, r+"+") || strings.HasPrefix(local, r+"-") {
				return "robot sender " + a
			}
		}
	}
	if ownSet[m.From] {
		return "From is our own address " + m.From
	}
	if ownSet[m.Sender] || ownSet[m.ReturnPath] {
		return "sent by our own address"
	}
	// By subject last, for mail that says by no field what it is.
	subject := strings.ToLower(strings.TrimSpace(m.Subject))
	for _, p := range autoSubjectPrefixes {
		if strings.HasPrefix(subject, p) {
			return "automatic reply subject (" + strings.TrimSuffix(p, ":") + ")"
		}
	}
	if mk := subjectMarker(subject); mk != "" {
		return "automatic reply subject (" + mk + ")"
	}
	if len(m.Attachments) == 0 || onlyTNEF(m.Attachments) {
		for _, p := range readSubjectPrefixes {
			if strings.HasPrefix(subject, p) {
				return "read receipt subject (" + strings.TrimSuffix(p, ":") + ")"
			}
		}
	}
	return ""
}
