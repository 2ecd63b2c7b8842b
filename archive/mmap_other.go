//go:build !unix

package archive

import "os"

// mapFile reads the file: there is no mapping here.
func mapFile(path string) ([]byte, func() error, func(), error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, nil, err
	}
	return data, func() error { return nil }, func() {}, nil
}
