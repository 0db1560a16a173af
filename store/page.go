package store

import (
	"context"
	"database/sql"
)

// The lists' shared shape: rows selected, ordered, cut to a page, and
// counted.

// limitOffset appends LIMIT and OFFSET when limit > 0; with no limit every
// row is selected, the offset aside.
func limitOffset(q string, args []any, limit, offset int) (string, []any) {
	if limit <= 0 {
		return q, args
	}
	return q + ` LIMIT ? OFFSET ?`, append(args, limit, max(offset, 0))
}

// limitSkip appends LIMIT and OFFSET when limit > 0; with no limit the
// first offset rows are still skipped.
func limitSkip(q string, args []any, limit, offset int) (string, []any) {
	switch {
	case limit > 0:
		return q + ` LIMIT ? OFFSET ?`, append(args, limit, max(offset, 0))
	case offset > 0:
		return q + ` LIMIT -1 OFFSET ?`, append(args, offset)
	}
	return q, args
}

// queryAll runs query and returns its rows, each read by scan; nil when
// there are none.
func queryAll[T any](ctx context.Context, q querier, scan func(rowScanner) (T, error), query string, args ...any) ([]T, error) {
	rows, err := q.QueryContext(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	defer rows.Close()
	var out []T
	for rows.Next() {
		x, err := scan(rows)
		if err != nil {
			return nil, err
		}
		out = append(out, x)
	}
	return out, rows.Err()
}

// scanID reads a row of one integer column (an id).
func scanID(r rowScanner) (int64, error) {
	var id int64
	err := r.Scan(&id)
	return id, err
}

// page returns, from one snapshot, how many rows countQuery counts and a
// page of them: listQuery (the same rows, ordered) cut by limitOffset, each
// row read by scan. Both queries take args.
func page[T any](ctx context.Context, s *Store, countQuery, listQuery string, args []any, limit, offset int,
	scan func(rowScanner) (T, error)) ([]T, int, error) {
	var (
		out   []T
		total int
	)
	err := s.read(ctx, func(tx *sql.Tx) error {
		if err := tx.QueryRowContext(ctx, countQuery, args...).Scan(&total); err != nil {
			return err
		}
		lq, largs := limitOffset(listQuery, append([]any(nil), args...), limit, offset)
		var err error
		out, err = queryAll(ctx, tx, scan, lq, largs...)
		return err
	})
	if err != nil {
		return nil, 0, err
	}
	return out, total, nil
}
