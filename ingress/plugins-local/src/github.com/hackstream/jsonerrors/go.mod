module github.com/hackstream/jsonerrors

go 1.22
