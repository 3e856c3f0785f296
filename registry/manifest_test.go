package registry

import (
	"strings"
	"testing"

	digest "github.com/opencontainers/go-digest"
	ocispec "github.com/opencontainers/image-spec/specs-go/v1"
)

func TestManifestListJSON(t *testing.T) {
	docker := ManifestPart{Ref: "r/a:1", Descriptor: ocispec.Descriptor{MediaType: "application/vnd.docker.distribution.manifest.v2+json",
		Digest: digest.Digest("sha256:" + strings.Repeat("a", 64)), Size: 10, Platform: &ocispec.Platform{OS: "linux", Architecture: "arm64", Variant: "v8"}}}
	oci := ManifestPart{Ref: "r/b:1", Descriptor: ocispec.Descriptor{MediaType: ocispec.MediaTypeImageManifest,
		Digest: digest.Digest("sha256:" + strings.Repeat("b", 64)), Size: 20}}
	for _, c := range []struct {
		name  string
		parts []ManifestPart
		want  string
	}{
		{"Docker first", []ManifestPart{docker, oci}, `{
   "schemaVersion": 2,
   "mediaType": "application/vnd.docker.distribution.manifest.list.v2+json",
   "manifests": [
      {
         "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
         "size": 10,
         "digest": "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
         "platform": {
            "architecture": "arm64",
            "os": "linux",
            "variant": "v8"
         }
      },
      {
         "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "size": 20,
         "digest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
         "platform": {
            "architecture": "",
            "os": ""
         }
      }
   ]
}`},
		{"OCI first", []ManifestPart{oci}, `{
   "schemaVersion": 2,
   "mediaType": "application/vnd.oci.image.index.v1+json",
   "manifests": [
      {
         "mediaType": "application/vnd.oci.image.manifest.v1+json",
         "size": 20,
         "digest": "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb",
         "platform": {
            "architecture": "",
            "os": ""
         }
      }
   ]
}`},
	} {
		t.Run(c.name, func(t *testing.T) {
			got, _, err := ManifestListJSON(c.parts)
			if err != nil || string(got) != c.want {
				t.Errorf("ManifestListJSON: %v\n%s\nwant\n%s", err, got, c.want)
			}
		})
	}
}

func TestAnnotate(t *testing.T) {
	p := &ocispec.Platform{OS: "linux", Architecture: "arm", OSFeatures: []string{"a"}}
	annotate(p, ManifestAnnotateOptions{Variant: "v7", OSFeatures: []string{"a", "b"}, OSVersion: "6"})
	if p.OS != "linux" || p.Architecture != "arm" || p.Variant != "v7" || p.OSVersion != "6" || strings.Join(p.OSFeatures, ",") != "a,b" {
		t.Errorf("annotate: %+v", p)
	}
	if !validOSArch["linux/arm64"] || !validOSArch["windows/amd64"] || validOSArch["linux/nonsense"] {
		t.Errorf("validOSArch: linux/arm64 and windows/amd64 are valid, linux/nonsense is not")
	}
}
