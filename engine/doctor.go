package engine

import "github.com/skiff-project/skiff/doctor"

// DoctorReport is what skiff system doctor found: one check per line.
type DoctorReport = doctor.Report

// DoctorCheck is one check of a DoctorReport.
type DoctorCheck = doctor.Check

// Doctor statuses.
const (
	DoctorOK   = doctor.OK
	DoctorInfo = doctor.Info
	DoctorWarn = doctor.Warn
	DoctorFail = doctor.Fail
	DoctorSkip = doctor.Skip
)

// SystemDoctor checks, as the calling user, what this host gives rootless
// (or root) use of skiff. Like SystemVersion it needs no engine value and
// never enters the user's namespace, so it works where New would fail.
func SystemDoctor() DoctorReport { return doctor.Run(doctor.Current()) }
