package web

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
	"golang.org/x/crypto/bcrypt"
)

// DefaultCost is the bcrypt cost of the hashes `intake hash-password`
// makes: a whole `intake hash-password` took 0.8 to 1.0 s on a loaded
// 2-core machine, and a first sign-in from a client costs about as much.
const DefaultCost = 12

// HashPassword makes the hash a user's password is configured by: bcrypt
// at cost (bcrypt.MinCost to bcrypt.MaxCost; DefaultCost for a hash that
// is written down).
func HashPassword(password string, cost int) (string, error) {
	if password == "" {
		return "", errors.New("web: empty password")
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), cost)
	if err != nil {
		return "", fmt.Errorf("web: hash password: %w", err)
	}
	return string(h), nil
}

// passwordHash is a configured hash, parsed once by New.
type passwordHash struct {
	bcrypt []byte      // a bcrypt hash ($2a$, $2b$, $2y$), or
	argon  *argon2Hash // an argon2id hash in the PHC string format
}

// argon2Hash is "$argon2id$v=19$m=MEMORY_KIB,t=TIME,p=THREADS$SALT$KEY", salt
// and key in unpadded standard base64, as the argon2 reference program,
// libsodium and Python's argon2-cffi write it.
type argon2Hash struct {
	memory  uint32
	time    uint32
	threads uint8
	salt    []byte
	key     []byte
}

// errNotAHash says what a hash must look like; a password written where
// its hash belongs gets this.
var errNotAHash = errors.New("not a bcrypt ($2a$, $2b$, $2y$) or argon2id ($argon2id$v=19$...) hash; make one with `intake hash-password`")

// parsePasswordHash checks a configured hash.
func parsePasswordHash(s string) (passwordHash, error) {
	switch {
	case strings.HasPrefix(s, "$2a$"), strings.HasPrefix(s, "$2b$"), strings.HasPrefix(s, "$2y$"):
		if _, err := bcrypt.Cost([]byte(s)); err != nil {
			return passwordHash{}, fmt.Errorf("bcrypt hash: %w", err)
		}
		return passwordHash{bcrypt: []byte(s)}, nil
	case strings.HasPrefix(s, "$argon2id$"):
		a, err := parseArgon2(s)
		if err != nil {
			return passwordHash{}, err
		}
		return passwordHash{argon: a}, nil
	}
	return passwordHash{}, errNotAHash
}

func parseArgon2(s string) (*argon2Hash, error) {
	parts := strings.Split(s, "$") // "", "argon2id", "v=19", "m=...,t=...,p=...", salt, key
	if len(parts) != 6 || parts[2] != "v=19" {
		return nil, errors.New("argon2id hash: want $argon2id$v=19$m=M,t=T,p=P$SALT$KEY")
	}
	var (
		a       argon2Hash
		threads uint32
	)
	if _, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &a.memory, &a.time, &threads); err != nil {
		return nil, fmt.Errorf("argon2id hash: parameters %q: %w", parts[3], err)
	}
	// Bounds that keep a sign-in from taking the machine: at most 1 GiB
	// and 255 threads (argon2's own limit).
	if a.memory < 8 || a.memory > 1<<20 || a.time < 1 || threads < 1 || threads > 255 {
		return nil, fmt.Errorf("argon2id hash: parameters %q out of range (m 8 to 1048576 KiB, t >= 1, p 1 to 255)", parts[3])
	}
	a.threads = uint8(threads)
	var err error
	if a.salt, err = base64.RawStdEncoding.DecodeString(parts[4]); err != nil || len(a.salt) < 8 {
		return nil, errors.New("argon2id hash: salt: want at least 8 bytes in unpadded base64")
	}
	if a.key, err = base64.RawStdEncoding.DecodeString(parts[5]); err != nil || len(a.key) < 16 {
		return nil, errors.New("argon2id hash: key: want at least 16 bytes in unpadded base64")
	}
	return &a, nil
}

// matches tells whether password is the one hashed. It takes the hash's
// full cost whatever the answer.
func (h passwordHash) matches(password string) bool {
	if h.argon != nil {
		a := h.argon
		key := argon2.IDKey([]byte(password), a.salt, a.time, a.memory, a.threads, uint32(len(a.key)))
		return subtle.ConstantTimeCompare(key, a.key) == 1
	}
	return bcrypt.CompareHashAndPassword(h.bcrypt, []byte(password)) == nil
}

// decoy is a hash of a random password with the same cost as h: an
// unknown user name is checked against it, so it takes as long to be
// refused as a known one with a wrong password.
func (h passwordHash) decoy() (passwordHash, error) {
	random := make([]byte, 18)
	rand.Read(random) //nolint:errcheck // crypto/rand.Read never fails
	if h.argon != nil {
		d := *h.argon
		d.key = make([]byte, len(h.argon.key))
		rand.Read(d.key) //nolint:errcheck // as above
		return passwordHash{argon: &d}, nil
	}
	cost, _ := bcrypt.Cost(h.bcrypt) // checked by parsePasswordHash
	b, err := bcrypt.GenerateFromPassword([]byte(base64.RawStdEncoding.EncodeToString(random)), cost)
	if err != nil {
		return passwordHash{}, fmt.Errorf("web: decoy hash: %w", err)
	}
	return passwordHash{bcrypt: b}, nil
}
