package container

import (
	"os/exec"
	"testing"
	"time"
)

// deadPid is the pid of a process that has exited and been reaped.
func deadPid(t *testing.T) int {
	t.Helper()
	cmd := exec.Command("true")
	if err := cmd.Run(); err != nil {
		t.Skipf("cannot run true: %v", err)
	}
	return cmd.Process.Pid
}

// A record read while the container ran, whose supervisor is gone by
// the time it is checked: the record on disk says how it ended (the
// supervisor wrote it before it exited), not "dead".
func TestCorrectStateReadsTheExitWrittenMeanwhile(t *testing.T) {
	useTempStore(t)
	c := lightRecord()
	c.State = State{Status: StatusExited, ExitCode: 3, FinishedAt: time.Now().UTC()}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	read := *c // as read before the supervisor's last write
	read.State = State{Status: StatusRunning, Running: true, Pid: 99, SupervisorPid: deadPid(t)}
	read.correctState()
	if read.State.Status != StatusExited || read.State.ExitCode != 3 || read.State.Dead {
		t.Errorf("state %+v, want the exit on disk: exited, code 3", read.State)
	}
}

// A running record whose supervisor is gone and wrote nothing more is
// dead, with the error saying so.
func TestCorrectStateDeadSupervisor(t *testing.T) {
	useTempStore(t)
	c := lightRecord()
	c.State = State{Status: StatusRunning, Running: true, Pid: 99, SupervisorPid: deadPid(t)}
	if err := c.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := ReadRecord(c.ID)
	if err != nil {
		t.Fatal(err)
	}
	if got.State.Status != StatusDead || !got.State.Dead || got.State.Running || got.State.Error == "" {
		t.Errorf("state %+v, want dead with an error", got.State)
	}
}
