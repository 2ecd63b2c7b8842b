package archive

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Open maps the archive file at path into memory (or, where it cannot be
// mapped, reads it) and parses it; path is the archive's name in messages.
// Mapping means only the members a link uses are ever read from disk. Call
// [Archive.Close] when the members' data is no longer needed.
//
// For a thin archive, Open reads each member from its own file, resolving
// relative paths against the archive's directory as GNU ld does. The paths
// come from the archive, so they may point anywhere: Open insists that
// they name regular files (never devices or FIFOs, which could block or
// never end), and reads each file once however many members, or spellings
// of its path, refer to it. Like ld, it does not check member files
// against the sizes recorded in the archive. An error reading a member file
// names the archive and member and wraps the underlying error, so
// errors.Is(err, fs.ErrNotExist) works.
func Open(path string) (*Archive, error) {
	data, unmap, evict, err := mapFile(path)
	if err != nil {
		return nil, err
	}
	l := &thinLoader{
		dir:    filepath.Dir(path),
		byPath: map[string][]byte{},
		byID:   map[fileID][]byte{},
	}
	a, err := parse(path, data, l.load)
	if err != nil {
		unmap()
		return nil, err
	}
	a.unmap = unmap
	// Parsing read every member header, and the kernel maps the pages
	// around each page read (fault-around), so by now the whole file
	// counts in the process's resident set. A link reads a few members:
	// let only theirs come back.
	evict()
	return a, nil
}

// Close releases the memory of an archive from [Open]. The data of its
// members must not be used afterwards. Close on a parsed archive, or a
// second Close, does nothing.
func (a *Archive) Close() error {
	if a.unmap == nil {
		return nil
	}
	err := a.unmap()
	a.unmap = nil
	return err
}

// thinLoader reads the member files of one thin archive.
type thinLoader struct {
	dir    string
	byPath map[string][]byte
	byID   map[fileID][]byte
}

func (l *thinLoader) load(member string) ([]byte, error) {
	path := filepath.FromSlash(member)
	if !filepath.IsAbs(path) {
		path = filepath.Join(l.dir, path)
	}
	if b, ok := l.byPath[path]; ok {
		return b, nil
	}
	// Stat before opening: opening a FIFO blocks until it has a writer.
	fi, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	// Check again: the file may have been replaced in between.
	if fi, err = f.Stat(); err != nil {
		return nil, err
	}
	if err := checkRegular(path, fi); err != nil {
		return nil, err
	}
	id, hasID := fileIdentity(fi)
	if b, ok := l.byID[id]; hasID && ok {
		l.byPath[path] = b
		return b, nil
	}
	b := make([]byte, fi.Size())
	if _, err := io.ReadFull(f, b); err != nil {
		return nil, fmt.Errorf("read %s: %w", path, err)
	}
	l.byPath[path] = b
	if hasID {
		l.byID[id] = b
	}
	return b, nil
}

func checkRegular(path string, fi os.FileInfo) error {
	if !fi.Mode().IsRegular() {
		return &os.PathError{Op: "open", Path: path, Err: errors.New("not a regular file")}
	}
	return nil
}
