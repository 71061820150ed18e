package keystore

import (
	"strings"
	"testing"
)

func TestPasswordHash(t *testing.T) {
	h, err := HashPassword("correct horse battery")
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("hash %q is not an argon2id PHC string with the expected parameters", h)
	}
	if strings.Contains(h, "correct horse") {
		t.Fatal("the hash contains the password")
	}
	if !CheckPassword(h, "correct horse battery") {
		t.Fatal("the right password does not match")
	}
	if CheckPassword(h, "correct horse batterz") || CheckPassword(h, "") {
		t.Fatal("a wrong password matches")
	}
	h2, _ := HashPassword("correct horse battery")
	if h2 == h {
		t.Fatal("two hashes of one password are equal: no salt")
	}
	CheckNoPassword("anything") // must not panic, matches nothing
}

func TestPasswordHashMalformed(t *testing.T) {
	h, _ := HashPassword("correct horse battery")
	parts := strings.Split(h, "$")
	for name, bad := range map[string]string{
		"empty":       "",
		"bcrypt":      "$2a$10$abcdefghijklmnopqrstuv",
		"argon2i":     strings.Replace(h, "argon2id", "argon2i", 1),
		"huge memory": strings.Replace(h, "m=19456", "m=99999999", 1),
		"many passes": strings.Replace(h, "t=2", "t=1000", 1),
		"bad salt":    strings.Join([]string{"", parts[1], parts[2], parts[3], "!!", parts[5]}, "$"),
		"short key":   strings.Join([]string{"", parts[1], parts[2], parts[3], parts[4], "AAAA"}, "$"),
	} {
		if CheckPassword(bad, "correct horse battery") {
			t.Errorf("%s: a malformed hash matched", name)
		}
	}
}
