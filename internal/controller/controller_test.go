package controller

import (
	"strings"
	"testing"
	"time"
)

func TestOptionsResyncSchedule(t *testing.T) {
	base := time.Date(2026, 11, 25, 22, 30, 0, 0, time.UTC)
	tests := []struct {
		name    string
		opts    Options
		want    time.Time // zero: no periodic resync
		wantErr string
	}{
		{name: "interval", opts: Options{ResyncInterval: 10 * time.Minute, DiscoveryInterval: time.Second}, want: base.Add(10 * time.Minute)},
		{name: "disabled", opts: Options{DiscoveryInterval: time.Second}},
		{name: "cron wins", opts: Options{ResyncInterval: time.Minute, ResyncSchedule: "0 3 * * *", DiscoveryInterval: time.Second}, want: time.Date(2026, 11, 26, 3, 0, 0, 0, time.UTC)},
		{name: "bad cron", opts: Options{ResyncSchedule: "every tuesday", DiscoveryInterval: time.Second}, wantErr: "--resync-schedule"},
		{name: "negative interval", opts: Options{ResyncInterval: -time.Second, DiscoveryInterval: time.Second}, wantErr: "--resync-interval"},
		{name: "leader election without namespace", opts: Options{LeaderElect: true, DiscoveryInterval: time.Second}, wantErr: "--namespace"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.opts.Validate()
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) {
					t.Fatalf("Validate() = %v, want an error about %s", err, tc.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			next, _ := tc.opts.nextResync()
			var got time.Time
			if next != nil {
				got = next(base)
			}
			if !got.Equal(tc.want) {
				t.Errorf("next resync = %v, want %v", got, tc.want)
			}
		})
	}
}
