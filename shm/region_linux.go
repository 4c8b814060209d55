package shm

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// shmDir is where POSIX shm_open, and so Python's SharedMemory, keeps named
// segments on Linux.
const shmDir = "/dev/shm/"

// createAnonymous makes a sealed memfd of size bytes. The seals forbid
// shrinking and growing: a process that receives the descriptor cannot
// truncate the region under the others, which would make their next touch of
// the lost pages raise SIGBUS.
func createAnonymous(size int64) (*os.File, error) {
	if err := checkMemory(size); err != nil {
		return nil, err
	}
	fd, err := unix.MemfdCreate("forkless", unix.MFD_CLOEXEC|unix.MFD_ALLOW_SEALING)
	if err != nil {
		return nil, fmt.Errorf("memfd_create: %w", err)
	}
	f := os.NewFile(uintptr(fd), "memfd:forkless")
	if err := unix.Ftruncate(fd, size); err != nil {
		f.Close()
		return nil, fmt.Errorf("ftruncate: %w", err)
	}
	if _, err := unix.FcntlInt(uintptr(fd), unix.F_ADD_SEALS, unix.F_SEAL_SHRINK|unix.F_SEAL_GROW|unix.F_SEAL_SEAL); err != nil {
		f.Close()
		return nil, fmt.Errorf("seal memfd: %w", err)
	}
	return f, nil
}

// checkMemory refuses a region larger than the machine's RAM and swap: the
// kernel would accept it lazily and then kill someone when it is touched.
func checkMemory(size int64) error {
	var si unix.Sysinfo_t
	if err := unix.Sysinfo(&si); err != nil {
		return nil // cannot tell; let the kernel decide
	}
	total := (uint64(si.Totalram) + uint64(si.Totalswap)) * uint64(si.Unit)
	if uint64(size) > total {
		return fmt.Errorf("%d bytes exceed this machine's %d bytes of memory: %w", size, total, ErrSize)
	}
	return nil
}

// createNamed makes /dev/shm/NAME exclusively, as shm_open(O_CREAT|O_EXCL)
// does, with Python's mode 0600. It refuses a size /dev/shm cannot hold: a
// tmpfs that runs out of pages raises SIGBUS on the write that needs one.
func createNamed(name string, size int64) (*os.File, error) {
	var st unix.Statfs_t
	if err := unix.Statfs(shmDir, &st); err != nil {
		return nil, fmt.Errorf("statfs %s: %w", shmDir, err)
	}
	if avail := st.Bavail * uint64(st.Bsize); uint64(size) > avail {
		return nil, fmt.Errorf("%d bytes, %s has %d free: %w", size, shmDir, avail, ErrNoSpace)
	}
	if err := checkMemory(size); err != nil {
		return nil, err
	}
	fd, err := unix.Open(shmDir+name, unix.O_RDWR|unix.O_CREAT|unix.O_EXCL|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, unix.EEXIST) {
			return nil, fmt.Errorf("name taken: %w", fs.ErrExist)
		}
		return nil, fmt.Errorf("open %s: %w", shmDir+name, err)
	}
	f := os.NewFile(uintptr(fd), shmDir+name)
	if err := unix.Ftruncate(fd, size); err != nil {
		f.Close()
		unix.Unlink(shmDir + name)
		return nil, fmt.Errorf("ftruncate: %w", err)
	}
	return f, nil
}

func openNamed(name string) (*os.File, error) {
	fd, err := unix.Open(shmDir+name, unix.O_RDWR|unix.O_CLOEXEC|unix.O_NOFOLLOW, 0)
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return nil, fmt.Errorf("no such region: %w", fs.ErrNotExist)
		}
		return nil, fmt.Errorf("open %s: %w", shmDir+name, err)
	}
	return os.NewFile(uintptr(fd), shmDir+name), nil
}

func unlinkNamed(name string) error {
	if err := unix.Unlink(shmDir + name); err != nil {
		if errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("no such region: %w", fs.ErrNotExist)
		}
		return err
	}
	return nil
}
