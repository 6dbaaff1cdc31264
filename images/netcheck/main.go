// Command netcheck is the network tests' only tool inside a pod:
//
//	netcheck serve PORT          answer every TCP connection with "ok <hostname>\n"
//	netcheck probe HOST:PORT     exit 0 when HOST:PORT answers within 2 s, else print why, exit 1
//	netcheck connect HOST:PORT   exit 0 when a TCP connection to HOST:PORT opens within 2 s (any server)
//	netcheck cat FILE            print FILE (the image has no shell: /proc/net/route, for one)
//
// A NetworkPolicy test runs `probe` in one pod against `serve` in another.
package main

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"time"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: netcheck serve PORT | probe HOST:PORT | connect HOST:PORT | cat FILE")
		os.Exit(2)
	}
	switch os.Args[1] {
	case "serve":
		serve(os.Args[2])
	case "probe":
		if err := probe(os.Args[2]); err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		fmt.Println("ok")
	case "connect":
		conn, err := net.DialTimeout("tcp", os.Args[2], 2*time.Second)
		if err != nil {
			fmt.Println(err)
			os.Exit(1)
		}
		conn.Close()
		fmt.Println("ok")
	case "cat":
		data, err := os.ReadFile(os.Args[2])
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.Stdout.Write(data)
	default:
		os.Exit(2)
	}
}

func serve(port string) {
	host, _ := os.Hostname()
	ln, err := net.Listen("tcp", ":"+port)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	fmt.Printf("serving on :%s\n", port)
	for {
		conn, err := ln.Accept()
		if err != nil {
			continue
		}
		fmt.Fprintf(conn, "ok %s\n", host)
		conn.Close()
	}
}

func probe(addr string) error {
	conn, err := net.DialTimeout("tcp", addr, 2*time.Second)
	if err != nil {
		return err
	}
	defer conn.Close()
	_ = conn.SetReadDeadline(time.Now().Add(2 * time.Second))
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		return err
	}
	if len(line) < 3 || line[:3] != "ok " {
		return fmt.Errorf("unexpected answer %q", line)
	}
	return nil
}
