// Package testservices gives tests the Redis and PostgreSQL servers that
// scripts/test started (see scripts/services). A missing server fails the
// test: a test that silently skipped would prove nothing.
package testservices

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"net/url"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	goredis "github.com/redis/go-redis/v9"
)

// RedisURL is the redis-server scripts/test started. Its absence fails the
// test: a cluster test that silently skipped would prove nothing.
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("INGESTGATE_TEST_REDIS_URL")
	if u == "" {
		t.Fatal("INGESTGATE_TEST_REDIS_URL is not set: run scripts/test, which starts redis-server, or set it to redis://127.0.0.1:PORT/0")
	}
	return u
}

// RedisClient is a client of its own to RedisURL, closed when the test
// ends.
func RedisClient(t testing.TB) *goredis.Client {
	t.Helper()
	opt, err := goredis.ParseURL(RedisURL(t))
	if err != nil {
		t.Fatalf("INGESTGATE_TEST_REDIS_URL: %v", err)
	}
	c := goredis.NewClient(opt)
	t.Cleanup(func() { c.Close() })
	return c
}

// RedisPrefix is a key and channel prefix no other test uses.
func RedisPrefix(t testing.TB) string {
	return "igtest:" + randomHex(t) + ":"
}

// PostgresURL is the PostgreSQL server scripts/test started (a role that
// may create databases).
func PostgresURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("INGESTGATE_TEST_POSTGRES_URL")
	if u == "" {
		t.Fatal("INGESTGATE_TEST_POSTGRES_URL is not set: run scripts/test, which starts PostgreSQL, or set it to postgres://USER@127.0.0.1:PORT/postgres?sslmode=disable")
	}
	return u
}

// PostgresDB creates a fresh, empty database on the PostgreSQL server
// scripts/test started, drops it when the test ends (even if a store left
// it open), and returns its URL.
func PostgresDB(t testing.TB) string {
	t.Helper()
	admin := PostgresURL(t)
	name := "ig_test_" + randomHex(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	conn, err := pgx.Connect(ctx, admin)
	if err != nil {
		t.Fatalf("connect to PostgreSQL: %v", err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, "CREATE DATABASE "+name); err != nil {
		t.Fatalf("create database: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		conn, err := pgx.Connect(ctx, admin)
		if err != nil {
			t.Errorf("connect to drop %s: %v", name, err)
			return
		}
		defer conn.Close(ctx)
		if _, err := conn.Exec(ctx, "DROP DATABASE IF EXISTS "+name+" WITH (FORCE)"); err != nil {
			t.Errorf("drop database %s: %v", name, err)
		}
	})
	u, err := url.Parse(admin)
	if err != nil {
		t.Fatal(err)
	}
	u.Path = "/" + name
	return u.String()
}

func randomHex(t testing.TB) string {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return hex.EncodeToString(b)
}
