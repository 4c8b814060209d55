"""The Python side of forkless's shared-memory interop test.

    pyshm.py read NAME HANDLE   open a forkless region made by Go, check the
                                header, check the uint64 array the handle
                                names holds i*3+1, then write i*5+2 into it
    pyshm.py create NAME COUNT  make a plain SharedMemory of COUNT uint64
                                holding i*7+3, and leave it for Go to read

The handle is forkless's text form, forkless:1:REGION:KIND:OFFSET:SIZE:ELEM:TYPE.
"""
import struct
import sys
from multiprocessing import resource_tracker, shared_memory


def attach(name, create=False, size=0):
    # Python before 3.13 registers every segment it opens with its resource
    # tracker, which unlinks it when this process exits: a segment owned by
    # Go would vanish. 3.13 has track=False; older versions need unregister.
    try:
        return shared_memory.SharedMemory(name=name, create=create, size=size, track=False)
    except TypeError:
        shm = shared_memory.SharedMemory(name=name, create=create, size=size)
        resource_tracker.unregister(shm._name, "shared_memory")
        return shm


def read(name, handle):
    fields = handle.split(":")
    assert fields[:2] == ["forkless", "1"], handle
    offset, size, elem = int(fields[4]), int(fields[5]), int(fields[6])
    assert elem == 8, elem
    shm = attach(name)
    buf = shm.buf
    assert bytes(buf[0:8]) == b"FORKLESS", bytes(buf[0:8])
    version, data_offset = struct.unpack_from("<II", buf, 8)
    assert version == 1 and data_offset == 4096, (version, data_offset)
    arr = buf[offset:offset + size].cast("Q")
    for i in range(len(arr)):
        if arr[i] != i * 3 + 1:
            raise SystemExit(f"element {i} = {arr[i]}, want {i * 3 + 1}")
    for i in range(len(arr)):
        arr[i] = i * 5 + 2
    n = len(arr)
    arr.release()
    del buf
    shm.close()
    print(f"ok {n}")


def create(name, count):
    shm = attach(name, create=True, size=count * 8)
    arr = shm.buf.cast("Q")
    for i in range(count):
        arr[i] = i * 7 + 3
    arr.release()
    shm.close()
    print("ok")


if __name__ == "__main__":
    if sys.argv[1] == "read":
        read(sys.argv[2], sys.argv[3])
    elif sys.argv[1] == "create":
        create(sys.argv[2], int(sys.argv[3]))
    else:
        raise SystemExit("usage: pyshm.py read NAME HANDLE | create NAME COUNT")
