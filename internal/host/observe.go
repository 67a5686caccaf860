package host

import "context"

// Observed wraps h so that onWrite hears of every file whose content is
// written through it, with the path as h's callers name it and the bytes,
// once the write succeeded. A path renamed from or to, or removed, is
// reported with nil data: tend no longer knows what it put there.
func Observed(h Host, onWrite func(path string, data []byte)) Host {
	if onWrite == nil {
		return h
	}
	return &observed{Host: h, onWrite: onWrite}
}

type observed struct {
	Host
	onWrite func(path string, data []byte)
}

func (o *observed) WriteFile(ctx context.Context, path string, data []byte, opts WriteOptions) error {
	if err := o.Host.WriteFile(ctx, path, data, opts); err != nil {
		return err
	}
	o.onWrite(path, data)
	return nil
}

func (o *observed) Rename(ctx context.Context, from, to string) error {
	err := o.Host.Rename(ctx, from, to)
	o.onWrite(from, nil)
	o.onWrite(to, nil)
	return err
}

func (o *observed) Remove(ctx context.Context, path string) error {
	err := o.Host.Remove(ctx, path)
	o.onWrite(path, nil)
	return err
}

func (o *observed) RemoveAll(ctx context.Context, path string) error {
	err := o.Host.RemoveAll(ctx, path)
	o.onWrite(path, nil)
	return err
}
