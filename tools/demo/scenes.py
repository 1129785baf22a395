"""Synthetic scenes for the demo model, with questions about them and their short answers.

A scene is an S x S picture cut into a 3 x 3 grid. Shapes (circle, square, triangle in six
colours) sit one per cell, with random size and offset inside the cell. A text scene writes a
digit (0-9) or a short word in the middle of the picture, in a random size and ink, and puts
shapes in the top and bottom rows.
Backgrounds are a light plain colour, light noise, stripes or a checkerboard.

Every draw comes from one numpy Generator, so a seed fixes the scenes, the questions and the
pictures (given the Pillow version: text goes through Pillow's built-in FreeType font).
"""

from collections import namedtuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

COLOURS = {
    "red": (215, 35, 35),
    "green": (35, 160, 60),
    "blue": (35, 75, 215),
    "yellow": (230, 195, 20),
    "purple": (135, 55, 175),
    "orange": (245, 130, 25),
}
SHAPES = ("circle", "square", "triangle")
PLACES = ("top left", "top", "top right", "left", "center", "right", "bottom left", "bottom", "bottom right")
WORDS = ("cat", "dog", "sun", "moon", "star", "fish", "bird", "tree", "boat", "cake", "book", "key")
TEXT_INKS = ((20, 20, 20), (60, 60, 60), (20, 30, 90), (90, 20, 20))

Sample = namedtuple("Sample", "picture kind question answer scene more")

# Question templates by kind. Shape questions need a unique subject where they name one.
QUESTION_KINDS = ("colour", "count", "where", "shape", "number", "word")


def plural(shape):
    return shape + "s"


class SceneMaker:
    def __init__(self, seed, size=96):
        self.rng = np.random.default_rng(seed)
        self.size = size

    # -- pictures -----------------------------------------------------------------------------

    def _background(self):
        s, rng = self.size, self.rng
        base = rng.integers(205, 256, size=3)
        style = rng.integers(0, 4)
        img = np.empty((s, s, 3), np.float64)
        img[:] = base
        if style == 1:  # light noise
            img += rng.normal(0.0, 9.0, size=(s, s, 3))
        elif style == 2:  # stripes
            period = int(rng.integers(6, 16))
            other = base - rng.integers(15, 35, size=3)
            y, x = np.mgrid[0:s, 0:s]
            band = ((x + y) if rng.integers(0, 2) else x) // (period // 2) % 2 == 1
            img[band] = other
        elif style == 3:  # checkerboard
            period = int(rng.integers(8, 20))
            other = base - rng.integers(15, 35, size=3)
            y, x = np.mgrid[0:s, 0:s]
            img[((x // period) + (y // period)) % 2 == 1] = other
        return Image.fromarray(np.clip(img, 0, 255).round().astype(np.uint8), "RGB")

    def _colour(self, name):
        return tuple(int(v) for v in np.clip(np.array(COLOURS[name]) + self.rng.integers(-18, 19, size=3), 0, 255))

    def _draw_shape(self, draw, cell, shape, colour):
        s, rng = self.size, self.rng
        c = s / 3
        cx0, cy0 = (cell % 3) * c, (cell // 3) * c
        side = c * rng.uniform(0.55, 0.85)
        x0 = cx0 + rng.uniform(0.05 * c, c - side - 0.05 * c)
        y0 = cy0 + rng.uniform(0.05 * c, c - side - 0.05 * c)
        box = [x0, y0, x0 + side, y0 + side]
        fill = self._colour(colour)
        if shape == "circle":
            draw.ellipse(box, fill=fill)
        elif shape == "square":
            draw.rectangle(box, fill=fill)
        else:
            draw.polygon([(x0, y0 + side), (x0 + side, y0 + side), (x0 + side / 2, y0)], fill=fill)

    def _draw_text(self, draw, text):
        s, rng = self.size, self.rng
        font = ImageFont.load_default(size=int(s * rng.uniform(0.26, 0.34)))
        left, top, right, bottom = draw.textbbox((0, 0), text, font=font)
        w, h = right - left, bottom - top
        x = (s - w) / 2 + rng.uniform(-0.04, 0.04) * s - left
        y = s / 3 + (s / 3 - h) / 2 + rng.uniform(-0.05, 0.05) * s - top
        ink = TEXT_INKS[rng.integers(0, len(TEXT_INKS))]
        draw.text((x, y), text, fill=ink, font=font)

    # -- scenes -------------------------------------------------------------------------------

    def scene(self):
        """A dict: objects [(cell, shape, colour)], text (str or None), text_kind ('number', 'word' or None)."""
        rng = self.rng
        if rng.random() < 0.35:
            text_kind = "number" if rng.random() < 0.6 else "word"
            text = str(int(rng.integers(0, 10))) if text_kind == "number" else WORDS[rng.integers(0, len(WORDS))]
            free = [0, 1, 2, 6, 7, 8]
            n = int(rng.integers(0, 4))
        else:
            text_kind, text = None, None
            free = list(range(9))
            n = int(rng.integers(1, 6))
        cells = sorted(rng.choice(free, size=n, replace=False).tolist())
        objects = [(cell, SHAPES[rng.integers(0, 3)], list(COLOURS)[rng.integers(0, len(COLOURS))]) for cell in cells]
        return {"objects": objects, "text": text, "text_kind": text_kind}

    def picture(self, scene):
        img = self._background()
        draw = ImageDraw.Draw(img)
        for cell, shape, colour in scene["objects"]:
            self._draw_shape(draw, cell, shape, colour)
        if scene["text"] is not None:
            self._draw_text(draw, scene["text"])
        return img

    def questions(self, scene):
        """Every question the scene answers unambiguously: [(kind, question, answer)]."""
        objs = scene["objects"]
        out = []
        if scene["text_kind"] == "number":
            out.append(("number", "What number is written?", scene["text"]))
        if scene["text_kind"] == "word":
            out.append(("word", "What word is written?", scene["text"]))
        for shape in SHAPES:
            same = [o for o in objs if o[1] == shape]
            out.append(("count", f"How many {plural(shape)} are there?", str(len(same))))
            if len(same) == 1:
                out.append(("colour", f"What colour is the {shape}?", same[0][2]))
        for cell, shape, colour in objs:
            if sum(1 for o in objs if o[1] == shape and o[2] == colour) == 1:
                out.append(("where", f"Where is the {colour} {shape}?", PLACES[cell]))
            if sum(1 for o in objs if o[2] == colour) == 1:
                out.append(("shape", f"What shape is the {colour} object?", shape))
        return out

    def sample(self, more=0):
        """A Sample: a scene, its picture and one of its questions (the kind drawn first, then a
        question of that kind), and up to `more` further questions about it, drawn the same way
        from those left."""
        scene = self.scene()
        left = self.questions(scene)
        chosen = []
        while left and len(chosen) < 1 + more:
            kinds = sorted({q[0] for q in left}, key=QUESTION_KINDS.index)
            kind = kinds[self.rng.integers(0, len(kinds))]
            same_kind = [q for q in left if q[0] == kind]
            q = same_kind[self.rng.integers(0, len(same_kind))]
            chosen.append(q)
            left.remove(q)
        kind, question, answer = chosen[0]
        return Sample(self.picture(scene), kind, question, answer, scene, chosen[1:])


def corpus_texts():
    """Every question and every answer but the numbers, for the tokenizer (digits stay single bytes)."""
    questions = ["What number is written?", "What word is written?"]
    for shape in SHAPES:
        questions += [f"How many {plural(shape)} are there?", f"What colour is the {shape}?"]
        questions += [f"Where is the {colour} {shape}?" for colour in COLOURS]
    questions += [f"What shape is the {colour} object?" for colour in COLOURS]
    answers = list(COLOURS) + list(SHAPES) + list(PLACES) + list(WORDS)
    return questions + [" " + a for a in answers]
