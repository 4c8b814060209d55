package arch

import (
	"bufio"
	"go/ast"
	"go/build"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const module = "github.com/forkless-go/forkless"

// floors orders the library's packages: each may import only packages on
// a lower floor. internal/ packages share floor 0 and may import each
// other (the go tool refuses cycles).
var floors = map[string]int{
	"shm": 1, "sync": 2, "ring": 3, "shared": 3, "queue": 4, "spawn": 5, "pool": 6, "faults": 7, "conformance": 7,
}

func root(t *testing.T) string {
	t.Helper()
	dir, err := filepath.Abs("../..")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "go.mod")); err != nil {
		t.Fatalf("module root not found: %v", err)
	}
	return dir
}

// libraryDirs lists the library's package directories, relative to the
// module root: everything but bench/, examples/ and testdata.
func libraryDirs(t *testing.T) []string {
	top := root(t)
	var dirs []string
	err := filepath.WalkDir(top, func(p string, d os.DirEntry, err error) error {
		if err != nil || !d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(top, p)
		switch {
		case rel == ".":
			return nil
		case strings.HasPrefix(d.Name(), "."), d.Name() == "testdata",
			rel == "bench", rel == "examples", rel == "docs", rel == "cluster":
			return filepath.SkipDir
		}
		if m, _ := filepath.Glob(filepath.Join(p, "*.go")); len(m) > 0 {
			dirs = append(dirs, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

func floorOf(rel string) (int, bool) {
	if strings.HasPrefix(rel, "internal/") {
		return 0, true
	}
	f, ok := floors[rel]
	return f, ok
}

func TestImportFloors(t *testing.T) {
	top := root(t)
	for _, goos := range []string{"linux", "darwin", "windows"} {
		ctx := build.Default
		ctx.GOOS = goos
		for _, rel := range libraryDirs(t) {
			pkg, err := ctx.ImportDir(filepath.Join(top, rel), 0)
			if err != nil {
				if _, ok := err.(*build.NoGoError); ok {
					continue
				}
				t.Fatalf("%s (%s): %v", rel, goos, err)
			}
			mine, ok := floorOf(rel)
			if !ok {
				t.Errorf("package %s has no floor: add it to floors (and to docs/design.md)", rel)
				continue
			}
			for _, imp := range pkg.Imports {
				checkImport(t, goos, rel, mine, imp)
			}
		}
	}
}

func checkImport(t *testing.T, goos, rel string, mine int, imp string) {
	if imp == "golang.org/x/sys/unix" && !strings.HasPrefix(rel, "internal/") && rel != "shm" {
		t.Errorf("%s (%s) imports %s: only internal/ and shm/ may", rel, goos, imp)
	}
	dep, ok := strings.CutPrefix(imp, module+"/")
	if !ok {
		return
	}
	theirs, known := floorOf(dep)
	switch {
	case !known:
		t.Errorf("%s (%s) imports %s, which has no floor", rel, goos, imp)
	case mine == 0 && theirs == 0:
	case theirs >= mine:
		t.Errorf("%s (floor %d, %s) imports %s (floor %d): a package imports only lower floors", rel, mine, goos, dep, theirs)
	}
}

func TestModuleRequiresOnlyTwoModules(t *testing.T) {
	b, err := os.ReadFile(filepath.Join(root(t), "go.mod"))
	if err != nil {
		t.Fatal(err)
	}
	allowed := map[string]bool{"golang.org/x/sys": true, "github.com/edsrzf/mmap-go": true}
	sc := bufio.NewScanner(strings.NewReader(string(b)))
	inBlock := false
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		switch {
		case len(f) == 0:
		case f[0] == "require" && len(f) > 1 && f[1] == "(":
			inBlock = true
		case f[0] == ")":
			inBlock = false
		case f[0] == "require" && len(f) >= 3 && !allowed[f[1]]:
			t.Errorf("go.mod requires %s: the library depends on x/sys and mmap-go only", f[1])
		case inBlock && !allowed[f[0]]:
			t.Errorf("go.mod requires %s: the library depends on x/sys and mmap-go only", f[0])
		}
	}
}

// unsafeAllowed: where unsafe may make pointers. Everywhere else unsafe is
// for Sizeof, Offsetof and Alignof (compile-time layout checks) only.
var unsafeAllowed = map[string]bool{"internal/mapped": true, "internal/futex": true}

func TestFileAndFunctionSize(t *testing.T) {
	top := root(t)
	fset := token.NewFileSet()
	for _, rel := range libraryDirs(t) {
		files, _ := filepath.Glob(filepath.Join(top, rel, "*.go"))
		for _, path := range files {
			if strings.HasSuffix(path, "_test.go") {
				continue
			}
			f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
			if err != nil {
				t.Fatal(err)
			}
			name := rel + "/" + filepath.Base(path)
			lines := fset.File(f.Pos()).LineCount()
			if lines > 600 {
				t.Errorf("%s: %d lines (at most 600: one concern per file)", name, lines)
			}
			if filepath.Base(path) == "doc.go" && lines > 85 {
				t.Errorf("%s: %d lines (a package doc states the contract in about 80)", name, lines)
			}
			checkFuncs(t, fset, f, name)
			if !unsafeAllowed[rel] {
				checkUnsafe(t, fset, f, name)
			}
		}
	}
}

func checkFuncs(t *testing.T, fset *token.FileSet, f *ast.File, name string) {
	for _, d := range f.Decls {
		fn, ok := d.(*ast.FuncDecl)
		if !ok || fn.Body == nil {
			continue
		}
		n := fset.Position(fn.Body.Rbrace).Line - fset.Position(fn.Pos()).Line + 1
		if n > 80 {
			t.Errorf("%s: func %s is %d lines (at most 80)", name, fn.Name.Name, n)
		}
	}
}

func checkUnsafe(t *testing.T, fset *token.FileSet, f *ast.File, name string) {
	ast.Inspect(f, func(n ast.Node) bool {
		sel, ok := n.(*ast.SelectorExpr)
		if !ok {
			return true
		}
		if x, ok := sel.X.(*ast.Ident); ok && x.Name == "unsafe" {
			switch sel.Sel.Name {
			case "Sizeof", "Offsetof", "Alignof":
			default:
				t.Errorf("%s: unsafe.%s at %v: reach mapped memory through internal/mapped", name, sel.Sel.Name, fset.Position(sel.Pos()))
			}
		}
		return true
	})
}
