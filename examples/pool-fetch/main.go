// Command pool-fetch fetches pages in parallel from worker processes. It
// starts its own local HTTP server, so it runs anywhere, offline.
//
// Python:
//
//	with Pool(4) as p:
//	    sizes = p.map(fetch, urls)
package main

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"strings"

	"github.com/forkless-go/forkless/pool"
	"github.com/forkless-go/forkless/spawn"
)

type page struct {
	URL   string
	Bytes int
	Title string
}

var fetch = spawn.Register("main.fetch", func(ctx context.Context, url string) (page, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return page{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return page{}, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		return page{}, err
	}
	if resp.StatusCode != http.StatusOK {
		return page{}, fmt.Errorf("%s: %s", url, resp.Status)
	}
	title, _, _ := strings.Cut(strings.TrimPrefix(string(body), "<title>"), "</title>")
	return page{URL: url, Bytes: len(body), Title: title}, nil
})

func main() {
	spawn.Main() // workers never get past this line, so they start no server

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/missing" {
			http.NotFound(w, r)
			return
		}
		fmt.Fprintf(w, "<title>page %s</title>%s", r.URL.Path, strings.Repeat(".", 100*len(r.URL.Path)))
	})}
	go srv.Serve(ln)
	defer srv.Close()

	ctx := context.Background()
	p, err := pool.New(ctx, pool.Workers(4))
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close(ctx)

	base := "http://" + ln.Addr().String()
	urls := []string{base + "/a", base + "/bb", base + "/ccc", base + "/missing", base + "/ddddd"}
	pages, err := pool.Map(ctx, p, fetch, urls, pool.Chunk(1))
	for i, p := range pages {
		if p.URL != "" {
			fmt.Printf("%-8s %4d bytes  %q\n", urls[i][len(base):], p.Bytes, p.Title)
		}
	}
	if err != nil {
		fmt.Println("failed:", err) // the missing page fails alone; the others are above
	}
}
