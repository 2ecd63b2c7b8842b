package compile

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
)

// Cache keeps compiled objects on disk, keyed by a hash of the compiler's
// identity and the input (MCJIT's ObjectCache idea): a later run, or
// another process, reuses them. Entries are written to a temporary file
// and renamed into place, so concurrent processes never see a partial one;
// two that compile the same input race harmlessly to the same bytes.
type Cache struct {
	dir string
}

// NewCache uses dir ("" for the user cache directory's gorc/objects).
func NewCache(dir string) (*Cache, error) {
	if dir == "" {
		base, err := os.UserCacheDir()
		if err != nil {
			return nil, fmt.Errorf("object cache: %w", err)
		}
		dir = filepath.Join(base, "gorc", "objects")
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("object cache: %w", err)
	}
	return &Cache{dir: dir}, nil
}

// Dir returns the cache directory.
func (c *Cache) Dir() string { return c.dir }

// Key hashes the parts of a cache key.
func Key(parts ...[]byte) string {
	h := sha256.New()
	for _, p := range parts {
		fmt.Fprintf(h, "%d:", len(p))
		h.Write(p)
	}
	return hex.EncodeToString(h.Sum(nil))
}

func (c *Cache) path(key string) string { return filepath.Join(c.dir, key+".o") }

// Get returns the object stored under key.
func (c *Cache) Get(key string) ([]byte, bool) {
	b, err := os.ReadFile(c.path(key))
	return b, err == nil
}

// Put stores obj under key.
func (c *Cache) Put(key string, obj []byte) error {
	f, err := os.CreateTemp(c.dir, "tmp-*.o")
	if err != nil {
		return fmt.Errorf("object cache: %w", err)
	}
	_, werr := f.Write(obj)
	cerr := f.Close()
	if werr == nil && cerr == nil {
		if err := os.Rename(f.Name(), c.path(key)); err == nil {
			return nil
		} else {
			werr = err
		}
	}
	os.Remove(f.Name())
	if werr == nil {
		werr = cerr
	}
	return fmt.Errorf("object cache: %w", werr)
}

// Cached wraps a compiler so that each input is compiled once per cache.
func Cached(c Compiler, cache *Cache) Compiler { return &cached{c: c, cache: cache} }

type cached struct {
	c     Compiler
	cache *Cache
}

func (c *cached) ID() string { return c.c.ID() }

func (c *cached) Compile(ctx context.Context, src []byte) ([]byte, error) {
	key := Key([]byte(c.c.ID()), src)
	if obj, ok := c.cache.Get(key); ok {
		return obj, nil
	}
	obj, err := c.c.Compile(ctx, src)
	if err != nil {
		return nil, err
	}
	if err := c.cache.Put(key, obj); err != nil {
		return nil, err
	}
	return obj, nil
}
