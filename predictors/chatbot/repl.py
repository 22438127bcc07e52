"""Terminal chat, as the tutorial's `python -m model` offered — no server needed.

python -m predictors.chatbot.repl --model_dir models/chatbot
"""

from __future__ import annotations

import argparse

from predictors.chatbot.generation import DialogueModel, PromptTooLong, Settings


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model_dir", default="models/chatbot")
    parser.add_argument("--device", choices=("auto", "cpu", "cuda"), default="auto")
    parser.add_argument("--max_new_tokens", type=int, default=Settings.max_new_tokens)
    args = parser.parse_args(argv)

    dialogue = DialogueModel(args.model_dir, args.device)
    settings = Settings(max_new_tokens=args.max_new_tokens)
    print(f"Using device: {dialogue.device}")
    print("DialoGPT Chat Bot - Type 'quit' to exit")
    history: list[str] = []
    while True:
        try:
            message = input("You: ").strip()
        except (EOFError, KeyboardInterrupt):
            print()
            break
        if message.lower() in {"quit", "exit"}:
            break
        if not message:
            continue
        try:
            reply = dialogue.reply(history, message, settings)
        except PromptTooLong as exc:
            print(f"(message too long: {exc})")
            continue
        history += [message, reply]
        print(f"Bot: {reply}\n")


if __name__ == "__main__":
    main()
