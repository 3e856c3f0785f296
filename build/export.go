package build

import (
	"io"
	"os"

	"go.podman.io/storage/pkg/archive"

	"github.com/skiff-project/skiff/storage"
)

// Export writes the files of an image, as `build --output` does: into
// dir (type=local; the files belong to whoever runs the build, as with
// buildx), or, with dir "", as a tar stream to w (type=tar; owners kept).
func Export(st *storage.Store, imageID, dir string, w io.Writer) error {
	root, done, err := st.MountImage(imageID)
	if err != nil {
		return err
	}
	defer done()
	rc, err := archive.TarWithOptions(root, &archive.TarOptions{})
	if err != nil {
		return err
	}
	defer rc.Close()
	if dir == "" {
		_, err = io.Copy(w, rc)
		return err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return archive.Untar(rc, dir, &archive.TarOptions{NoLchown: true})
}
