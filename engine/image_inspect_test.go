package engine

import (
	"encoding/json"
	"testing"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/skiff-project/skiff/storage"
)

// TestImageInspectEmptyConfigKeys: an image whose config sets nothing
// still has the Config keys Docker always sends (API 1.47), so templates
// like {{.Config.WorkingDir}} or {{.Config.OnBuild}} print a zero value,
// never <no value>.
func TestImageInspectEmptyConfigKeys(t *testing.T) {
	img := &storage.Image{ID: goldenImageID, Config: v1.ConfigFile{Architecture: "amd64", OS: "linux"}}
	res, err := inspectImage(img)
	if err != nil {
		t.Fatal(err)
	}
	data, err := json.Marshal(res)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Config map[string]json.RawMessage
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	for _, k := range []string{"Hostname", "Domainname", "User", "AttachStdin", "AttachStdout", "AttachStderr", "Tty",
		"OpenStdin", "StdinOnce", "Env", "Cmd", "Image", "Volumes", "WorkingDir", "Entrypoint", "OnBuild", "Labels"} {
		if _, ok := doc.Config[k]; !ok {
			t.Errorf("Config.%s is missing: %s", k, data)
		}
	}
}
