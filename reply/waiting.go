package reply

import "time"

// KindWaiting is the acknowledgement of an encrypted workbook that waits
// for its password.
const KindWaiting = "waiting"

// WaitingInput is what an acknowledgement of a workbook waiting for its
// password says, beyond the outcome's receipt, call and original mail.
type WaitingInput struct {
	Outcome
	Files []string  // the encrypted files' names, as received
	Until time.Time // the password is awaited until then
}

type waitingView struct {
	common
	Received string
	Files    []string
	Until    string
	SendTo   string
}

// Waiting builds the reply to a mail whose encrypted workbook cannot be
// read yet: it gives the receipt number, says the workbook waits for its
// password until Until, and how to send the password (a separate mail
// naming the receipt). It never holds a password or a cell value.
func (b *Builder) Waiting(in WaitingInput) (*Mail, error) {
	v := waitingView{
		common:   b.common(in.Outcome),
		Received: dateTime(received(in.Outcome)),
		Files:    in.Files,
		Until:    dateTime(in.Until),
		SendTo:   b.opts.From,
	}
	text, html, err := b.render(KindWaiting, v)
	if err != nil {
		return nil, err
	}
	return b.compose(b.replyEnvelope(KindWaiting, in.Outcome), text, html, nil)
}
