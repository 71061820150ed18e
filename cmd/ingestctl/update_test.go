package main

import (
	"slices"
	"testing"
	"time"

	"github.com/spf13/pflag"
	"google.golang.org/protobuf/proto"
	"google.golang.org/protobuf/types/known/timestamppb"

	ingestgatev1 "github.com/ingestgate/ingestgate/gen/ingestgate/v1"
)

var testNow = time.Date(2030, 1, 2, 3, 4, 5, 0, time.UTC)

// flagSet parses args into a fresh flag set, as cobra would before RunE.
func flagSet(t *testing.T, register func(*pflag.FlagSet), args ...string) *pflag.FlagSet {
	t.Helper()
	fs := pflag.NewFlagSet("test", pflag.ContinueOnError)
	register(fs)
	if err := fs.Parse(args); err != nil {
		t.Fatalf("parse %q: %v", args, err)
	}
	return fs
}

func TestBuildKeyUpdate(t *testing.T) {
	ts := func(tm time.Time) *timestamppb.Timestamp { return timestamppb.New(tm) }
	base := func(k *ingestgatev1.IngestKey) *ingestgatev1.IngestKey {
		k.WorkspaceId, k.Id = "ws", "ik_1"
		return k
	}
	tests := []struct {
		name      string
		args      []string
		wantPaths []string
		want      *ingestgatev1.IngestKey
		wantErr   string
	}{
		{
			name: "name only", args: []string{"--name", "edge"},
			wantPaths: []string{"name"}, want: base(&ingestgatev1.IngestKey{Name: "edge"}),
		},
		{
			name: "empty description clears it", args: []string{"--description", ""},
			wantPaths: []string{"description"}, want: base(&ingestgatev1.IngestKey{}),
		},
		{
			name: "labels replace", args: []string{"--label", "a=1", "--label", "b=2"},
			wantPaths: []string{"labels"}, want: base(&ingestgatev1.IngestKey{Labels: map[string]string{"a": "1", "b": "2"}}),
		},
		{
			name: "clear labels", args: []string{"--clear-labels"},
			wantPaths: []string{"labels"}, want: base(&ingestgatev1.IngestKey{}),
		},
		{
			name: "clear labels false touches nothing", args: []string{"--clear-labels=false", "--name", "x"},
			wantPaths: []string{"name"}, want: base(&ingestgatev1.IngestKey{Name: "x"}),
		},
		{
			name: "devices and tags set the scope", args: []string{"--device", "d1,d2", "--tag", "site=b", "--tag", "site=p"},
			wantPaths: []string{"scope"},
			want:      base(&ingestgatev1.IngestKey{Scope: &ingestgatev1.KeyScope{DeviceIds: []string{"d1", "d2"}, Tags: []string{"site=b", "site=p"}}}),
		},
		{
			name: "all devices", args: []string{"--all-devices"},
			wantPaths: []string{"scope"}, want: base(&ingestgatev1.IngestKey{Scope: &ingestgatev1.KeyScope{AllDevices: true}}),
		},
		{
			name: "expires", args: []string{"--expires", "48h"},
			wantPaths: []string{"expire_time"}, want: base(&ingestgatev1.IngestKey{ExpireTime: ts(testNow.Add(48 * time.Hour))}),
		},
		{
			name: "no expiry sends the path without a time", args: []string{"--no-expiry"},
			wantPaths: []string{"expire_time"}, want: base(&ingestgatev1.IngestKey{}),
		},
		{
			name: "rate and max streams share one path", args: []string{"--rate", "100", "--max-streams", "3"},
			wantPaths: []string{"limits"}, want: base(&ingestgatev1.IngestKey{Limits: &ingestgatev1.KeyLimits{RecordsPerSecond: 100, MaxStreams: 3}}),
		},
		{
			name: "mask follows field order", args: []string{"--rate", "5", "--no-expiry", "--tag", "a=b", "--label", "x=y", "--description", "d", "--name", "n"},
			wantPaths: []string{"name", "description", "labels", "scope", "expire_time", "limits"},
			want: base(&ingestgatev1.IngestKey{
				Name: "n", Description: "d", Labels: map[string]string{"x": "y"},
				Scope: &ingestgatev1.KeyScope{Tags: []string{"a=b"}}, Limits: &ingestgatev1.KeyLimits{RecordsPerSecond: 5},
			}),
		},
		{name: "nothing given", args: nil, wantErr: "nothing to update: give at least one of --name, --description"},
		{name: "labels conflict", args: []string{"--clear-labels", "--label", "a=b"}, wantErr: "--clear-labels conflicts with --label"},
		{name: "scope conflict", args: []string{"--all-devices", "--device", "d1"}, wantErr: "--all-devices conflicts"},
		{name: "expiry conflict", args: []string{"--no-expiry", "--expires", "1h"}, wantErr: "--expires conflicts with --no-expiry"},
		{name: "bad label", args: []string{"--label", "nokey"}, wantErr: `--label "nokey": want key=value`},
		{name: "bad tag", args: []string{"--tag", "site="}, wantErr: `--tag "site=": empty value`},
		{name: "empty device", args: []string{"--device", ""}, wantErr: `--device "": empty value`},
		{name: "bad expiry", args: []string{"--expires", "tomorrow"}, wantErr: "want an RFC 3339 time"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f keyFlags
			fs := flagSet(t, func(fs *pflag.FlagSet) { f.register(fs, true) }, tt.args...)
			key, mask, err := buildKeyUpdate("ws", "ik_1", &f, fs, testNow)
			if !errContains(t, err, tt.wantErr) {
				return
			}
			if !slices.Equal(mask.GetPaths(), tt.wantPaths) {
				t.Errorf("paths %q, want %q", mask.GetPaths(), tt.wantPaths)
			}
			if !proto.Equal(key, tt.want) {
				t.Errorf("key\n got %v\nwant %v", key, tt.want)
			}
		})
	}
}

func TestBuildKeyCreate(t *testing.T) {
	tests := []struct {
		name    string
		args    []string
		want    *ingestgatev1.IngestKey
		wantErr string
	}{
		{
			name: "defaults to all devices, no limits", args: []string{"--name", "k"},
			want: &ingestgatev1.IngestKey{Name: "k", Scope: &ingestgatev1.KeyScope{AllDevices: true}},
		},
		{
			name: "everything",
			args: []string{"--name", "k", "--description", "d", "--label", "team=ops", "--device", "d1",
				"--tag", "site=x", "--expires", "2031-01-01", "--max-streams", "2"},
			want: &ingestgatev1.IngestKey{
				Name: "k", Description: "d", Labels: map[string]string{"team": "ops"},
				Scope:      &ingestgatev1.KeyScope{DeviceIds: []string{"d1"}, Tags: []string{"site=x"}},
				ExpireTime: timestamppb.New(time.Date(2031, 1, 1, 0, 0, 0, 0, time.UTC)),
				Limits:     &ingestgatev1.KeyLimits{MaxStreams: 2},
			},
		},
		// An empty variable must not quietly widen the key to every device.
		{name: "empty device", args: []string{"--name", "k", "--device", ""}, wantErr: "empty value"},
		{name: "duplicate label", args: []string{"--name", "k", "--label", "a=1", "--label", "a=2"}, wantErr: "given twice"},
		{name: "past expiry", args: []string{"--name", "k", "--expires", "2001-01-01"}, wantErr: "in the past"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f keyFlags
			fs := flagSet(t, func(fs *pflag.FlagSet) { f.register(fs, false) }, tt.args...)
			key, err := buildKeyCreate(&f, fs, testNow)
			if errContains(t, err, tt.wantErr) && !proto.Equal(key, tt.want) {
				t.Errorf("key\n got %v\nwant %v", key, tt.want)
			}
		})
	}
}

func TestBuildAPIKeyUpdate(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantPaths []string
		want      *ingestgatev1.ApiKey
		wantErr   string
	}{
		{
			name: "permissions replace", args: []string{"--permission", "keys:read,keys:write", "--permission", "events:read"},
			wantPaths: []string{"permissions"}, want: &ingestgatev1.ApiKey{Id: "ak_1", Permissions: []string{"keys:read", "keys:write", "events:read"}},
		},
		{
			name: "all workspaces clears the list", args: []string{"--all-workspaces"},
			wantPaths: []string{"workspace_ids"}, want: &ingestgatev1.ApiKey{Id: "ak_1"},
		},
		{
			name: "name, workspaces, expiry", args: []string{"--workspace-scope", "prod", "--name", "ci", "--no-expiry"},
			wantPaths: []string{"name", "workspace_ids", "expire_time"}, want: &ingestgatev1.ApiKey{Id: "ak_1", Name: "ci", WorkspaceIds: []string{"prod"}},
		},
		{name: "nothing given", wantErr: "nothing to update"},
		{name: "workspace conflict", args: []string{"--all-workspaces", "--workspace-scope", "a"}, wantErr: "--all-workspaces conflicts"},
		{name: "empty permission", args: []string{"--permission", ""}, wantErr: "empty value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f apiKeyFlags
			fs := flagSet(t, func(fs *pflag.FlagSet) { f.register(fs, true) }, tt.args...)
			key, mask, err := buildAPIKeyUpdate("ak_1", &f, fs, testNow)
			if !errContains(t, err, tt.wantErr) {
				return
			}
			if !slices.Equal(mask.GetPaths(), tt.wantPaths) {
				t.Errorf("paths %q, want %q", mask.GetPaths(), tt.wantPaths)
			}
			if !proto.Equal(key, tt.want) {
				t.Errorf("key\n got %v\nwant %v", key, tt.want)
			}
		})
	}
}

func TestBuildDeviceUpdate(t *testing.T) {
	tests := []struct {
		name      string
		args      []string
		wantPaths []string
		want      *ingestgatev1.Device
		wantErr   string
	}{
		{name: "name", args: []string{"--name", "Roof"}, wantPaths: []string{"display_name"},
			want: &ingestgatev1.Device{WorkspaceId: "ws", Id: "d1", DisplayName: "Roof"}},
		{name: "tags", args: []string{"--tag", "site=x", "--tag", "kind=t"}, wantPaths: []string{"tags"},
			want: &ingestgatev1.Device{WorkspaceId: "ws", Id: "d1", Tags: map[string]string{"site": "x", "kind": "t"}}},
		{name: "clear tags", args: []string{"--clear-tags"}, wantPaths: []string{"tags"},
			want: &ingestgatev1.Device{WorkspaceId: "ws", Id: "d1"}},
		{name: "nothing", wantErr: "nothing to update: give at least one of --name, --tag, --clear-tags"},
		{name: "conflict", args: []string{"--clear-tags", "--tag", "a=b"}, wantErr: "--clear-tags conflicts with --tag"},
		{name: "tag needs a value", args: []string{"--tag", "site="}, wantErr: "empty value"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var f deviceUpdateFlags
			fs := flagSet(t, f.register, tt.args...)
			d, mask, err := buildDeviceUpdate("ws", "d1", &f, fs)
			if !errContains(t, err, tt.wantErr) {
				return
			}
			if !slices.Equal(mask.GetPaths(), tt.wantPaths) {
				t.Errorf("paths %q, want %q", mask.GetPaths(), tt.wantPaths)
			}
			if !proto.Equal(d, tt.want) {
				t.Errorf("device\n got %v\nwant %v", d, tt.want)
			}
		})
	}
}
